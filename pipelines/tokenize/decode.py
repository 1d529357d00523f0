"""Decode + resample + validate: the first (CPU, Ray task) stage of the tokenization job.

For every row: read the audio segment (soundfile), reject a channel count above ``max_channels``,
downmix to mono, reject NaN/Inf, resample to 16 kHz (soxr HQ), then reject too short / too long /
silent audio (:func:`uniaudio.audio.check_audio`). The paired ``source`` and ``enrolment`` audio,
when the row has them, go through the same checks. A rejected row carries its reason (``missing``,
``unreadable``, ``bad_channels``, ``too_short``, ``silent``, ...; a paired file's reasons are
prefixed with its role, e.g. ``source_silent``) and its audio is dropped; a good row carries ``wav``
(float32 bytes), ``<role>_wav`` for its paired audio, and ``duration_s``.

>>> import numpy as np, tempfile, os
>>> from uniaudio.audio import write_audio
>>> p = os.path.join(tempfile.mkdtemp(), "a.wav")
>>> write_audio(p, 0.1 * np.sin(np.arange(22050) / 5.0).astype("float32"), 22050)
>>> row = decode_row({"source_uri": p, "start_s": None, "end_s": None}, AudioCheckConfig())
>>> round(row["duration_s"], 3), row["q_reason"] is None
(1.0, True)
>>> decode_row({"source_uri": p + ".gone", "start_s": None, "end_s": None}, AudioCheckConfig())["q_reason"]
'missing'
"""

from __future__ import annotations

from pydantic import Field

from typing import Any

import numpy as np
import pyarrow as pa

from uniaudio.stores.schema import PAIRED_ROLES
from pipelines.tokenize.columns import from_table, reject, to_table
from uniaudio.audio import SAMPLE_RATE, AudioError, AudioLimits, check_audio, read_audio, resample
from uniaudio.config import ConfigBase


class AudioCheckConfig(ConfigBase):
    """What audio the token store accepts."""

    min_s: float = Field(0.5, ge=0.0)
    max_s: float = Field(60.0, gt=0.0)
    silence_dbfs: float = Field(-60.0, le=0.0)
    max_channels: int = Field(2, ge=1)  # more channels (e.g. a 6-channel film mix) is almost surely the wrong file

    def limits(self) -> AudioLimits:
        return AudioLimits(min_s=self.min_s, max_s=self.max_s, silence_dbfs=self.silence_dbfs)


def decode_audio(uri: str, start_s: float | None, end_s: float | None, cfg: AudioCheckConfig) -> np.ndarray:
    """-> float32 mono 16 kHz samples, or :class:`AudioError` with the reason."""
    data, sr = read_audio(uri, start_s, end_s)
    if data.shape[0] > cfg.max_channels:
        raise AudioError(uri, "bad_channels", f"{data.shape[0]} channels > max_channels={cfg.max_channels}")
    mono = data.mean(axis=0) if data.shape[0] > 1 else data[0]
    if not np.all(np.isfinite(mono)):
        raise AudioError(uri, "non_finite", "NaN or Inf samples")
    wav = resample(mono, sr, SAMPLE_RATE)
    check_audio(uri, wav, SAMPLE_RATE, cfg.limits())
    return np.ascontiguousarray(wav, dtype=np.float32)


def decode_row(row: dict[str, Any], cfg: AudioCheckConfig) -> dict[str, Any]:
    """Decode the row's audio (and its paired audio) in place; see the module docstring."""
    row.setdefault("q_reason", None)
    try:
        wav = decode_audio(row["source_uri"], row.get("start_s"), row.get("end_s"), cfg)
    except AudioError as err:
        return reject(row, "decode" if err.reason in ("missing", "unreadable", "empty", "empty_segment", "truncated")
                      else "validate",
                      err.reason, err.detail)
    row["wav"] = wav.tobytes()
    row["duration_s"] = wav.shape[0] / SAMPLE_RATE
    for role in PAIRED_ROLES:
        uri = row.get(f"{role}_audio_uri")
        if not uri:
            continue
        try:
            # A paired role is a whole file: simulated pairs are written one file per utterance.
            row[f"{role}_wav"] = decode_audio(uri, None, None, cfg).tobytes()
        except AudioError as err:
            return reject(row, "decode", f"{role}_{err.reason}", f"{uri}: {err.detail}")
    return row


def decode_table(table: pa.Table, cfg: AudioCheckConfig, n_q: int) -> pa.Table:
    """The stage over one block (a Ray ``map_batches`` function in pyarrow format)."""
    rows = [decode_row(r, cfg) for r in from_table(table)]
    return to_table(rows, n_q)
