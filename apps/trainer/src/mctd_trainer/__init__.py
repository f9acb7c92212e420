"""mctd-trainer."""
