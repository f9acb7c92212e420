from mctd_eval.cli import main

main()
