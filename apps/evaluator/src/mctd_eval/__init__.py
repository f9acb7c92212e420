"""mctd-eval."""

__version__ = "0.3.0"
