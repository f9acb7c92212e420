"""mctd-chat: search decoding in a conversation, in the terminal and behind an OpenAI-compatible
server."""

from importlib.metadata import version as _version

__version__ = _version("mctd-chat")
