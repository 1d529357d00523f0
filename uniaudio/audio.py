"""Audio I/O shared by every stage: read (soundfile), resample (soxr), validate, write.

All audio inside the project is mono float32 at :data:`SAMPLE_RATE` (16 kHz). Reading is strict: a
missing, unreadable or empty file raises :class:`AudioError` with the path and the reason, which the
callers turn into a clear CLI error or a quarantine record.

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
>>> t = np.arange(44100) / 44100
>>> write_audio(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype("float32"), 44100)
>>> wav = load_audio(path)            # resampled to 16 kHz mono
>>> wav.shape, wav.dtype
((16000,), dtype('float32'))
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000


class AudioError(ValueError):
    """Audio that cannot be used, with the reason (``reason`` is a short machine-readable code)."""

    def __init__(self, uri: str, reason: str, detail: str = ""):
        self.uri, self.reason, self.detail = uri, reason, detail
        super().__init__(f"{uri}: {reason}" + (f" ({detail})" if detail else ""))


def _local_path(uri: str) -> str:
    from uniaudio.stores.uri import local_path

    return local_path(uri)


def _source(uri: str):
    """A local path, or for an object-store URI (``s3://``) its bytes in memory (decoded on this node,
    so no node needs another's disk). Missing either way -> :class:`AudioError` ``missing``."""
    from uniaudio.stores import uri as uris

    if uris.is_remote(uri):
        import io

        from uniaudio.errors import UserFacingError

        try:
            return io.BytesIO(uris.read_bytes(uri))
        except (UserFacingError, OSError) as err:
            raise AudioError(uri, "missing", str(err).splitlines()[0][:200]) from None
    path = _local_path(uri)
    if not Path(path).is_file():
        raise AudioError(uri, "missing", "no such file")
    return path


def audio_info(uri: str) -> tuple[int, int, float]:
    """(sample_rate, channels, duration_s) without decoding the samples."""
    import soundfile as sf

    path = _source(uri)
    try:
        info = sf.info(path)
    except Exception as err:  # soundfile raises several types for corrupt input
        raise AudioError(uri, "unreadable", str(err).splitlines()[0][:200]) from None
    return info.samplerate, info.channels, info.frames / max(info.samplerate, 1)


def wav_truncation(path: str) -> tuple[float, float] | None:
    """(declared_s, present_s) of a RIFF/WAVE file whose ``data`` chunk is shorter than its header says,
    else None (complete, streamed with an unknown size, or not a plain RIFF wav). libsndfile reads such
    a file without complaint, as if it were shorter."""
    import contextlib
    import struct

    with (open(path, "rb") if isinstance(path, (str, os.PathLike)) else contextlib.nullcontext(path)) as f:
        f.seek(0)
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size = f.seek(0, 2)
        rate = align = 0
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            cid, clen = struct.unpack("<4sI", f.read(8))
            if cid == b"fmt " and clen >= 16:
                _, _, rate, _, align = struct.unpack("<HHIIH", f.read(14))
            elif cid == b"data":
                if clen in (0, 0xFFFFFFFF) or not rate or not align:
                    return None
                present = size - (pos + 8)
                if present >= clen:
                    return None
                return clen / align / rate, present / align / rate
            pos += 8 + clen + (clen & 1)
    return None


def read_audio(uri: str, start_s: float | None = None, end_s: float | None = None) -> tuple[np.ndarray, int]:
    """Decode ``uri`` (optionally the [start_s, end_s) segment) -> (float32 [channels, samples], rate).
    A wav whose data is shorter than its header declares is :class:`AudioError` ``truncated``."""
    import soundfile as sf

    path = _source(uri)
    try:
        cut = wav_truncation(path)
    except OSError as err:
        raise AudioError(uri, "unreadable", str(err).splitlines()[0][:200]) from None
    if cut is not None:
        raise AudioError(uri, "truncated", f"header says {cut[0]:.2f} s, the file holds {cut[1]:.2f} s")
    try:
        if not isinstance(path, str):
            path.seek(0)
        with sf.SoundFile(path) as f:
            sr = f.samplerate
            start = int(round((start_s or 0.0) * sr))
            stop = f.frames if end_s is None else min(f.frames, int(round(end_s * sr)))
            if start >= stop:
                raise AudioError(uri, "empty_segment", f"start={start_s} end={end_s} frames={f.frames}")
            f.seek(start)
            data = f.read(stop - start, dtype="float32", always_2d=True)
    except AudioError:
        raise
    except Exception as err:
        raise AudioError(uri, "unreadable", str(err).splitlines()[0][:200]) from None
    if data.size == 0:
        raise AudioError(uri, "empty", "no samples")
    return np.ascontiguousarray(data.T), sr


def resample(wav: np.ndarray, sr_in: int, sr_out: int = SAMPLE_RATE) -> np.ndarray:
    """Resample the last axis with soxr (high quality); returns float32."""
    if sr_in == sr_out:
        return wav.astype(np.float32, copy=False)
    import soxr

    if wav.ndim == 1:
        return soxr.resample(wav, sr_in, sr_out, quality="HQ").astype(np.float32, copy=False)
    return np.stack([soxr.resample(ch, sr_in, sr_out, quality="HQ") for ch in wav]).astype(np.float32)


def load_audio(
    uri: str,
    sample_rate: int = SAMPLE_RATE,
    start_s: float | None = None,
    end_s: float | None = None,
    mono: bool = True,
) -> np.ndarray:
    """Read, downmix (mean of channels) and resample -> float32 ``[samples]`` (or ``[ch, samples]``)."""
    data, sr = read_audio(uri, start_s, end_s)
    if mono:
        data = data.mean(axis=0)
    if not np.all(np.isfinite(data)):
        raise AudioError(uri, "non_finite", "NaN or Inf samples")
    return resample(data, sr, sample_rate)


@dataclass(frozen=True)
class AudioLimits:
    """What counts as usable audio for a stage (too short/long, silent, clipped)."""

    min_s: float = 0.5
    max_s: float = 60.0
    silence_dbfs: float = -60.0


def check_audio(uri: str, wav: np.ndarray, sample_rate: int = SAMPLE_RATE, limits: AudioLimits = AudioLimits()) -> None:
    """Raise :class:`AudioError` (too_short / too_long / silent) for audio a stage should not use."""
    dur = wav.shape[-1] / sample_rate
    if dur < limits.min_s:
        raise AudioError(uri, "too_short", f"{dur:.2f}s < {limits.min_s}s")
    if dur > limits.max_s:
        raise AudioError(uri, "too_long", f"{dur:.2f}s > {limits.max_s}s")
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64))))
    level = 20 * np.log10(max(rms, 1e-12))
    if level < limits.silence_dbfs:
        raise AudioError(uri, "silent", f"{level:.1f} dBFS < {limits.silence_dbfs} dBFS")


def write_audio(path: str | Path, wav: np.ndarray, sample_rate: int = SAMPLE_RATE, subtype: str = "PCM_16") -> None:
    """Write mono ``[samples]`` (or ``[ch, samples]``) float audio; parent folders are created."""
    import soundfile as sf

    p = Path(_local_path(str(path)))
    p.parent.mkdir(parents=True, exist_ok=True)
    data = np.asarray(wav, dtype=np.float32)
    data = data.T if data.ndim == 2 else data
    sf.write(str(p), np.clip(data, -1.0, 1.0), sample_rate, subtype=subtype)
