from mctd_chat.cli import main

main()
