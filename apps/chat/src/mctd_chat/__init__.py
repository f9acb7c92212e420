"""mctd-chat: search decoding in a conversation, in the terminal and behind an OpenAI-compatible
server."""

__version__ = "0.2.0"
