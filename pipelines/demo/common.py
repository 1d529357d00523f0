"""Plumbing shared by the demo-corpus parts: source checks, seeds, subprocesses, audio finishing, the pool.

Everything here is deterministic: per-item seeds are derived from the build seed and the item's
name (never from the order work happens to finish in), the process pool returns results in
submission order, and audio is finished with fixed numeric steps (soxr resample, gain, 16-bit PCM).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from uniaudio.audio import SAMPLE_RATE, load_audio, resample, write_audio
from uniaudio.errors import UserFacingError

# What each part of the corpus reads from the system, and the Debian package that ships it.
# (A binary is looked up on PATH; anything with a "/" is a file or folder.)
SOURCES: dict[str, tuple[str, str]] = {
    "asterisk_wav": ("/usr/share/asterisk/sounds/en_US_f_Allison", "asterisk-core-sounds-en-wav"),
    "asterisk_txt": ("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz", "asterisk-core-sounds-en"),
    "librivox": ("/usr/share/pocketsphinx/test/data/librivox", "pocketsphinx-testdata"),
    "cards": ("/usr/share/pocketsphinx/test/data/cards", "pocketsphinx-testdata"),
    "flite": ("flite", "flite"),
    "text2wave": ("text2wave", "festival"),
    "festival": ("festival", "festival"),
    "festival_ked": ("/usr/share/festival/voices/english/ked_diphone", "festvox-kdlpc16k"),
    "festival_kal": ("/usr/share/festival/voices/english/kal_diphone", "festvox-kallpc16k"),
    "espeak": ("espeak-ng", "espeak-ng"),
    "fluidsynth": ("fluidsynth", "fluidsynth"),
    "soundfont": ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "fluid-soundfont-gm"),
    "wordwarvi": ("/usr/share/wordwarvi/sounds", "wordwarvi-sound"),
    "freedesktop": ("/usr/share/sounds/freedesktop/stereo", "sound-theme-freedesktop"),
    "sonic_pi": ("/usr/share/sonic-pi/samples", "sonic-pi-samples"),
    "alsa_noise": ("/usr/share/sounds/alsa/Noise.wav", "alsa-utils"),
}


def source_path(key: str) -> str:
    """The path (or resolved binary) of source ``key``; raises a clear error naming the apt package."""
    where, package = SOURCES[key]
    found = where if "/" in where and os.path.exists(where) else (shutil.which(where) if "/" not in where else None)
    if not found:
        raise UserFacingError(
            f"{where} is missing; install the Debian package `{package}` "
            f"(apt-get install -y {package}; it is listed in requirements/apt.txt)"
        )
    return found


def check_sources(keys: Iterable[str]) -> None:
    """Fail before any work starts, listing every missing package at once."""
    missing = []
    for key in keys:
        try:
            source_path(key)
        except UserFacingError:
            missing.append(SOURCES[key][1])
    if missing:
        pkgs = " ".join(sorted(set(missing)))
        raise UserFacingError(
            f"missing Debian packages: {pkgs} (apt-get install -y {pkgs}; all are in requirements/apt.txt)"
        )


def item_seed(seed: int, *parts: object) -> int:
    """A 32-bit seed for one item, from the build seed and the item's name (order-independent)."""
    h = hashlib.sha256(("/".join(str(p) for p in (seed, *parts))).encode()).digest()
    return int.from_bytes(h[:4], "little")


def rng_for(seed: int, *parts: object) -> np.random.Generator:
    return np.random.default_rng(item_seed(seed, *parts))


# -- subprocesses -----------------------------------------------------------------------------------
def run_tool(args: list[str], what: str, timeout: float = 120.0, stdin: str | None = None) -> str:
    """Run a synthesizer; a failure raises with the command and its stderr (never a silent gap)."""
    env = dict(os.environ, LC_ALL="C.UTF-8")
    try:
        proc = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=timeout, env=env)
    except FileNotFoundError:
        raise UserFacingError(f"{args[0]} not found while making {what}") from None
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"demo corpus: {' '.join(args[:3])}... timed out after {timeout:.0f}s making {what}") from None
    if proc.returncode != 0:
        err = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"demo corpus: {args[0]} failed (exit {proc.returncode}) making {what}: {' | '.join(err)}")
    return proc.stdout


class ScratchDir:
    """A private temporary folder for one job's intermediate files, removed afterwards."""

    def __enter__(self) -> Path:
        self._d = tempfile.mkdtemp(prefix="democorpus-")
        return Path(self._d)

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self._d, ignore_errors=True)


# -- audio ------------------------------------------------------------------------------------------
def dbfs(wav: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if wav.size else 0.0
    return 20.0 * np.log10(max(rms, 1e-12))


def normalize(wav: np.ndarray, rms_dbfs: float = -22.0, peak: float = 0.95) -> np.ndarray:
    """Gain to ``rms_dbfs`` (so sources recorded at very different levels sit together), peak-capped."""
    wav = wav.astype(np.float64) - float(np.mean(wav))  # DC offset: some prompts carry one
    gain = 10 ** ((rms_dbfs - dbfs(wav)) / 20.0)
    top = float(np.max(np.abs(wav))) * gain
    if top > peak:
        gain *= peak / top
    return (wav * gain).astype(np.float32)


def finish_file(src: str | Path, dst: str | Path, rms_dbfs: float = -22.0, max_s: float | None = None,
                min_s: float = 0.0) -> float:
    """Read any packaged audio, downmix, resample to 16 kHz, normalise, write 16-bit wav; -> seconds."""
    wav = load_audio(str(src))
    return finish_array(wav, SAMPLE_RATE, dst, rms_dbfs=rms_dbfs, max_s=max_s, min_s=min_s)


def finish_array(wav: np.ndarray, sr: int, dst: str | Path, rms_dbfs: float = -22.0, max_s: float | None = None,
                 min_s: float = 0.0) -> float:
    """Mono ``wav`` at ``sr`` -> normalised 16 kHz 16-bit wav at ``dst`` (cropped to ``max_s``, padded
    with silence to ``min_s`` so very short clicks stay usable); returns the written duration."""
    if wav.ndim == 2:
        wav = wav.mean(axis=0)
    wav = resample(np.asarray(wav, dtype=np.float32), sr, SAMPLE_RATE)
    if max_s is not None:
        wav = wav[: int(max_s * SAMPLE_RATE)]
    wav = normalize(wav, rms_dbfs)
    short = int(min_s * SAMPLE_RATE) - wav.shape[0]
    if short > 0:
        wav = np.concatenate([wav, np.zeros(short, np.float32)])
    write_audio(dst, wav, SAMPLE_RATE)
    return wav.shape[0] / SAMPLE_RATE


# -- the pool -------------------------------------------------------------------------------------
@dataclass
class Job:
    """One unit of work: ``fn(**kwargs)`` returning a JSON-able dict (module-level fn: it must pickle)."""

    fn: Callable[..., dict]
    kwargs: dict[str, Any] = field(default_factory=dict)
    cost: float = 1.0  # rough relative run time: expensive jobs are started first


def _call(job: Job) -> dict:
    return job.fn(**job.kwargs)


class JobPool:
    """``workers`` processes shared by every stage of a build (spawned once: each worker pays its
    imports - numpy, music21, pyroomacoustics - once, not once per stage). ``workers <= 1`` runs
    jobs in this process. Use as a context manager."""

    def __init__(self, workers: int = 2):
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "JobPool":
        if self.workers > 1:
            # spawn, not fork: the caller may have Ray / torch threads running, and forking those
            # deadlocks. Workers run one job at a time: one thread each for numeric libraries (the
            # budget is 2 cores); the variables are read when the workers start.
            saved = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
            os.environ.update({k: "1" for k in saved})
            try:
                self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))
                # Start the workers now, while the variables are set (the executor spawns lazily).
                list(self._pool.map(abs, range(self.workers)))
            finally:
                for k, v in saved.items():
                    os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def run(self, jobs: list[Job], desc: str = "demo corpus") -> list[dict]:
        """Run ``jobs``; results come back in submission order (determinism), whatever finishes first."""
        from tqdm import tqdm

        if self._pool is None:
            return [_call(j) for j in tqdm(jobs, desc=desc, unit="item", leave=False)]
        # Longest first, one job per task: otherwise a few slow renders at the end of the list keep
        # one worker busy while the other idles. Results are put back in submission order.
        order = sorted(range(len(jobs)), key=lambda i: -jobs[i].cost)
        results: list[dict] = [{}] * len(jobs)
        done = self._pool.map(_call, [jobs[i] for i in order], chunksize=1)
        for i, res in zip(order, tqdm(done, total=len(jobs), desc=desc, unit="item", leave=False)):
            results[i] = res
        return results
