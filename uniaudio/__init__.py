"""UniAudio: one multi-scale transformer over neural-codec tokens for 11 audio generation tasks."""

__version__ = "0.1.0"
