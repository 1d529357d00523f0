"""Training audio for the codec: where it comes from, which files are usable, and random crops.

Sources (``--data``): a dataset spec YAML (read with :mod:`pipelines.sources`, every row's
``audio_uri`` / ``start_s`` / ``end_s``), a folder searched recursively for audio files, or a ``.txt``
list of paths (relative paths resolve against the list's folder). Bad audio never stops training:
unreadable, missing, too short and silent files are skipped, counted and reported (``Skipped``).

Batches are a pure function of ``(seed, step, rank)``: a resumed run reads exactly the crops it would
have read, with no sampler state to checkpoint, and a bad file consumes its random draw whether it
was already known to be bad or not, so the sequence never depends on what a process has seen.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from uniaudio.audio import AudioError, AudioLimits, audio_info, check_audio, load_audio
from uniaudio.errors import UserFacingError
from uniaudio.stores import uri as uris

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3", ".opus"}
SILENCE_DBFS = -60.0


@dataclass(frozen=True)
class AudioItem:
    uri: str
    start_s: float | None = None
    end_s: float | None = None
    duration_s: float = 0.0


@dataclass(frozen=True)
class Skipped:
    uri: str
    reason: str
    detail: str = ""


def collect_items(data: str | Path) -> tuple[list[AudioItem], list[Skipped]]:
    """Audio items named by ``data`` (spec YAML, folder, or .txt list; each a local path or an
    ``s3://``/``gs://`` URI) + rows its reader rejected.

    A folder on an object store is a prefix: every object under it with an audio suffix. Relative
    entries of a list resolve against the list's own folder (or prefix).
    """
    s = str(data)
    remote = uris.is_remote(s)
    if remote and not s.lower().endswith((".txt", ".lst", ".list", ".yaml", ".yml")):
        files = sorted(rel for rel, _ in uris.list_files(s) if Path(rel).suffix.lower() in AUDIO_SUFFIXES)
        if not files:
            raise UserFacingError(f"--data {data}: no audio objects under this prefix")
        return [AudioItem(uris.join(s, rel)) for rel in files], []
    p = Path(uris.local_path(s)) if not remote else None
    if p is not None and p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES and f.is_file())
        return [AudioItem(str(f.resolve())) for f in files], []
    if not (uris.is_file(s) if remote else p.is_file()):
        raise UserFacingError(f"--data {data}: no such file or folder")
    suffix = Path(s).suffix.lower()
    if suffix in {".txt", ".lst", ".list"}:
        items = []
        for line in uris.read_text(s).splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                items.append(AudioItem(uris.resolve(line.split()[0], uris.parent(s))))
        return items, []
    if suffix in {".yaml", ".yml"}:
        return _items_from_spec(s)
    raise UserFacingError(f"--data {data}: expected a dataset spec (.yaml), a folder of audio, or a .txt list of paths")


def _items_from_spec(path: str) -> tuple[list[AudioItem], list[Skipped]]:
    try:
        from pipelines.sources import load_dataset_spec, read_spec
    except ImportError as err:
        raise UserFacingError(f"{path}: reading dataset specs needs pipelines.sources ({err}); "
                              "pass a folder of audio files or a .txt list of paths instead") from None
    result = read_spec(load_dataset_spec(path))
    items = [AudioItem(r.audio_uri, r.start_s, r.end_s) for r in result.rows]
    skipped = [Skipped(f"{pr.dataset}:{pr.utt_id or pr.where}", "reader", pr.reason) for pr in result.problems]
    return items, skipped


def index_items(items: list[AudioItem], min_s: float) -> tuple[list[AudioItem], list[Skipped]]:
    """Attach durations (header reads only); drop missing, unreadable and too-short items."""
    good, bad = [], []
    for it in items:
        try:
            sr, _, dur = audio_info(it.uri)
        except AudioError as err:
            bad.append(Skipped(it.uri, err.reason, err.detail))
            continue
        start = it.start_s or 0.0
        end = dur if it.end_s is None else min(it.end_s, dur)
        length = end - start
        if length < max(min_s, 1.0 / max(sr, 1)):
            bad.append(Skipped(it.uri, "too_short", f"{length:.2f}s < {min_s}s"))
            continue
        good.append(AudioItem(it.uri, it.start_s, it.end_s, length))
    return good, bad


def split_items(items: list[AudioItem], n_val: int) -> tuple[list[AudioItem], list[AudioItem]]:
    """Deterministic (hash-ordered) validation subset of size n_val; at least one item stays in train."""
    n_val = min(n_val, max(0, len(items) - 1))
    order = sorted(items, key=lambda it: hashlib.sha1(f"{it.uri}|{it.start_s}".encode()).hexdigest())
    val = order[:n_val]
    chosen = set(val)
    return [it for it in items if it not in chosen], val


def warn_skipped(skipped: list[Skipped], where: str) -> None:
    if skipped:
        reasons: dict[str, int] = {}
        for s in skipped:
            reasons[s.reason] = reasons.get(s.reason, 0) + 1
        summary = ", ".join(f"{k}={v}" for k, v in sorted(reasons.items()))
        warnings.warn(f"{where}: skipped {len(skipped)} audio item(s) ({summary}); first: {skipped[0].uri}: "
                      f"{skipped[0].reason} {skipped[0].detail}".rstrip(), stacklevel=2)


def _dbfs(x: np.ndarray) -> float:
    return 20 * math.log10(max(float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))), 1e-12))


class CropBatches(torch.utils.data.Dataset):
    """``dataset[step] -> {"wav": [B, 1, T], "skipped": [Skipped...]}`` with T a multiple of the hop.

    The crop length (1-3 s by default) is drawn per step from ``(seed, step)``, the same on every
    rank, so ranks do equal work; the files and offsets come from ``(seed, step, rank)``.
    """

    def __init__(self, items: list[AudioItem], batch_size: int, crop_min_s: float, crop_max_s: float,
                 seed: int, rank: int = 0, sample_rate: int = 16000, hop: int = 320, norm_scale: float = 0.95,
                 max_attempts: int = 50, length: int = 1 << 40):
        if not items:
            raise UserFacingError("no usable training audio (every file was skipped, or none was given)")
        self.items, self.batch_size = items, batch_size
        self.crop = (crop_min_s, crop_max_s)
        self.seed, self.rank, self.sr, self.hop = seed, rank, sample_rate, hop
        self.norm_scale, self.max_attempts, self.length = norm_scale, max_attempts, length
        self.bad: dict[str, Skipped] = {}
        self._local: dict[str, str] = {}  # object-store URI -> its copy in this node's cache

    def __len__(self) -> int:
        return self.length

    def crop_samples(self, step: int) -> int:
        rng = np.random.default_rng([self.seed, step])
        seconds = rng.uniform(*self.crop)
        return max(1, round(seconds * self.sr / self.hop)) * self.hop

    def __getitem__(self, step: int) -> dict:
        T = self.crop_samples(step)
        rng = np.random.default_rng([self.seed, step, self.rank, 1])
        out, skipped = [], []
        for _ in range(self.batch_size):
            out.append(self._one(rng, T, skipped))
        return {"wav": torch.from_numpy(np.stack(out)).unsqueeze(1), "skipped": skipped}

    def _one(self, rng: np.random.Generator, T: int, skipped: list[Skipped]) -> np.ndarray:
        for _ in range(self.max_attempts):
            it = self.items[int(rng.integers(len(self.items)))]
            offset_frac = float(rng.random())  # drawn even for known-bad items: keeps the stream fixed
            if it.uri in self.bad:
                continue
            try:
                wav = self._read(it, offset_frac, T)
            except AudioError as err:
                self._mark_bad(Skipped(it.uri, err.reason, err.detail), skipped)
                continue
            if _dbfs(wav) < SILENCE_DBFS:
                self._check_whole(it, skipped)  # a silent crop of a speaking file is just redrawn
                continue
            peak = float(np.abs(wav).max())
            return (wav * (self.norm_scale / peak) if self.norm_scale > 0 else wav).astype(np.float32)
        raise UserFacingError(f"no usable crop after {self.max_attempts} attempts: the training audio is "
                              f"mostly unreadable or silent ({len(self.bad)} bad files so far)")

    def _read(self, it: AudioItem, frac: float, T: int) -> np.ndarray:
        need_s = T / self.sr
        base = it.start_s or 0.0
        off = frac * max(0.0, it.duration_s - need_s)
        end = min(base + off + need_s + 0.01, base + it.duration_s)
        wav = load_audio(self._readable(it.uri), self.sr, start_s=base + off, end_s=end)
        return np.pad(wav[:T], (0, max(0, T - wav.shape[0])))  # shorter than the crop: zero-pad

    def _readable(self, uri: str) -> str:
        """A local path for ``uri``: training draws thousands of crops from the same files, so an
        object is fetched into the node's cache once (hash-verified, :func:`uris.fetch`) instead of
        downloaded whole for every crop."""
        if not uris.is_remote(uri):
            return uri
        if uri not in self._local:
            try:
                self._local[uri] = str(uris.fetch(uri))
            except (UserFacingError, OSError) as err:
                raise AudioError(uri, "missing", str(err).splitlines()[0][:200]) from None
        return self._local[uri]

    def _check_whole(self, it: AudioItem, skipped: list[Skipped]) -> None:
        try:
            wav = load_audio(self._readable(it.uri), self.sr, start_s=it.start_s, end_s=it.end_s)
            check_audio(it.uri, wav, self.sr, AudioLimits(min_s=0.0, max_s=float("inf"), silence_dbfs=SILENCE_DBFS))
        except AudioError as err:
            self._mark_bad(Skipped(it.uri, err.reason, err.detail), skipped)

    def _mark_bad(self, s: Skipped, skipped: list[Skipped]) -> None:
        self.bad[s.uri] = s
        skipped.append(s)


def load_validation(items: list[AudioItem], max_s: float, sample_rate: int = 16000, hop: int = 320,
                    min_s: float = 0.5) -> tuple[list[np.ndarray], list[Skipped]]:
    """The first ``max_s`` seconds of each item, trimmed to whole frames; bad items are skipped."""
    wavs, bad = [], []
    for it in items:
        end = (it.start_s or 0.0) + min(max_s, it.duration_s or max_s)
        try:
            wav = load_audio(it.uri, sample_rate, start_s=it.start_s, end_s=end)
            check_audio(it.uri, wav, sample_rate, AudioLimits(min_s=min_s, max_s=float("inf"), silence_dbfs=SILENCE_DBFS))
        except AudioError as err:
            bad.append(Skipped(it.uri, err.reason, err.detail))
            continue
        wavs.append(wav[: (wav.shape[0] // hop) * hop].astype(np.float32))
    return wavs, bad
