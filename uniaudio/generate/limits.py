"""Bounds on what one generation request (and one batch) may ask for, checked before any heavy work.

Sized so the largest allowed request fits a small machine: 2000 characters of text are ~2.5 min of
speech, whose phones (<= 1500) plus the longest output (``lengths.max_frames_cap`` = 3000 frames)
keep a prefill + KV cache of the 1B model in a few GB; longer input is refused with one line instead
of growing until the kernel kills the process (a 100,000-character TTS text once reached 23.6 GB).
Input audio is bounded by ``max_input_seconds`` of :class:`~uniaudio.generate.config.GenerateConfig`,
read from the file header before decoding.

>>> RequestLimits().max_text_chars, RequestLimits().max_requests
(2000, 10000)
>>> check_text("text", "x" * 5, RequestLimits(max_text_chars=4))
Traceback (most recent call last):
...
ValueError: text has 5 characters, more than limits.max_text_chars=4
"""

from __future__ import annotations

from pydantic import Field

from uniaudio.config import ConfigBase

AUDIO_SUFFIXES = (".wav", ".flac")  # what write_audio (soundfile, PCM_16) writes for a request's output


class RequestLimits(ConfigBase):
    max_requests: int = Field(10_000, ge=1)  # requests per batch file
    max_text_chars: int = Field(2_000, ge=1)  # text / caption / instruction / lyrics, each
    max_phones: int = Field(1_500, ge=1)  # phones of a text after G2P
    max_prefix_frames: int = Field(4_000, ge=1)  # the whole condition prefix (frames)


def check_text(key: str, value: str, limits: RequestLimits) -> None:
    if len(value) > limits.max_text_chars:
        raise ValueError(f"{key} has {len(value)} characters, more than limits.max_text_chars={limits.max_text_chars}")
