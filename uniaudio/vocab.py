"""The global token vocabulary: an explicit, frozen, versioned id layout (``uniaudio/vocab/v1.json``).

Every id is fixed by the JSON file, never by which tokenizers are enabled (the reference appended
ranges in tokenizer insertion order, so one flag shifted every later id). The file is written next to
every checkpoint and logged to MLflow; loading a checkpoint with a different vocabulary fails clearly.

Layout of v1 (see the JSON for every id):

* ``[0, 256)`` specials: pad, start, end, global/local frame SOS, continuous placeholder, a start/end
  marker per modality, one id per task, reserved spares.
* ``[256, 16640)`` codec: codebook ``k``, code ``v`` -> ``256 + 1024*k + v`` for up to 16 codebooks.
* ``16640`` the codec ``<mask>`` (masked frames for speech edit), then ranges for phones, semantic
  units, singing phones, MIDI notes, text ids and labels, each with headroom.

>>> v = load_vocab()
>>> v.version, v.size
('v1', 23552)
>>> v.pad, v.start_of("audio"), v.task_id("tts")
(0, 16, 64)
>>> int(v.to_global("phone", 5)) == v.range("phone").start + 5
True
>>> v.codec_to_global([[1, 2, 3]]).tolist()
[[257, 1282, 2307]]
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from uniaudio.errors import VocabMismatchError

VOCAB_DIR = Path(__file__).parent / "vocab"
DEFAULT_VERSION = "v1"

# Modality names used across the project (task templates, tokenizers, the token store).
AUDIO = "audio"
AUDIO_PROMPT = "audio_prompt"
PHONE = "phone"
TEXT = "text"
SEMANTIC = "semantic"
TEXT_EMB = "text_emb"
SING_PHONE = "sing_phone"
SING_MIDI = "sing_midi"
LABEL = "label"
MODALITIES = (AUDIO, AUDIO_PROMPT, PHONE, TEXT, SEMANTIC, TEXT_EMB, SING_PHONE, SING_MIDI, LABEL)
CODEC_MODALITIES = (AUDIO, AUDIO_PROMPT)


@dataclass(frozen=True)
class IdRange:
    """A half-open id range ``[start, stop)``."""

    name: str
    start: int
    size: int

    @property
    def stop(self) -> int:
        return self.start + self.size

    def __contains__(self, token: int) -> bool:
        return self.start <= int(token) < self.stop


class Vocab:
    """Read-only view of one vocabulary file. Construct with :func:`load_vocab`."""

    def __init__(self, doc: dict[str, Any]):
        self.doc = doc
        self.name: str = doc["name"]
        self.version: str = doc["version"]
        self.size: int = int(doc["size"])
        self.specials: dict[str, int] = {k: int(v) for k, v in doc["specials"].items()}
        self._id_to_special = {v: k for k, v in self.specials.items()}
        self.tasks: dict[str, int] = {k: int(v) for k, v in doc["tasks"].items()}
        self.ranges: dict[str, IdRange] = {
            k: IdRange(k, int(r["start"]), int(r["size"])) for k, r in doc["ranges"].items()
        }
        self._modality_range: dict[str, str | None] = dict(doc["modality_ranges"])
        self.continuous_modalities: tuple[str, ...] = tuple(doc["continuous_modalities"])
        codec = doc["ranges"]["codec"]
        self.codebook_size: int = int(codec["codebook_size"])
        self.max_codebooks: int = int(codec["num_codebooks"])
        self.content_hash: str = hashlib.sha256(canonical_json(doc).encode()).hexdigest()[:16]

    # --- specials -------------------------------------------------------------------------------
    def special(self, name: str) -> int:
        try:
            return self.specials[name]
        except KeyError:
            raise KeyError(f"no special token {name!r} in vocab {self.version}") from None

    pad = property(lambda self: self.specials["<pad>"])
    start = property(lambda self: self.specials["<start>"])
    end = property(lambda self: self.specials["<end>"])
    global_sos = property(lambda self: self.specials["<global_sos>"])
    local_sos = property(lambda self: self.specials["<local_sos>"])
    continuous = property(lambda self: self.specials["<continuous>"])
    mask = property(lambda self: self.specials["<mask>"])

    def start_of(self, modality: str) -> int:
        return self.doc["modality_markers"][self._check_modality(modality)]["start"]

    def end_of(self, modality: str) -> int:
        return self.doc["modality_markers"][self._check_modality(modality)]["end"]

    def task_id(self, task: str) -> int:
        if task not in self.tasks:
            raise KeyError(f"unknown task {task!r}; vocab {self.version} has: {', '.join(self.tasks)}")
        return self.tasks[task]

    # --- ranges -----------------------------------------------------------------------------------
    def _check_modality(self, modality: str) -> str:
        if modality not in self._modality_range:
            raise KeyError(f"unknown modality {modality!r}; known: {', '.join(self._modality_range)}")
        return modality

    def is_continuous(self, modality: str) -> bool:
        return self._check_modality(modality) in self.continuous_modalities

    def range(self, modality_or_range: str) -> IdRange:
        """The id range of a modality (``"audio"`` -> the codec range) or of a named range."""
        if modality_or_range in self.ranges:
            return self.ranges[modality_or_range]
        key = self._modality_range.get(self._check_modality(modality_or_range))
        if key is None:
            raise KeyError(f"modality {modality_or_range!r} is continuous and has no id range")
        return self.ranges[key]

    def codebook_range(self, k: int) -> IdRange:
        if not 0 <= k < self.max_codebooks:
            raise ValueError(f"codebook {k} outside 0..{self.max_codebooks - 1}")
        base = self.ranges["codec"].start + k * self.codebook_size
        return IdRange(f"codebook_{k}", base, self.codebook_size)

    # --- local <-> global -------------------------------------------------------------------------
    def to_global(self, modality: str, local: Any) -> np.ndarray:
        """Map local ids of a non-codec modality to global ids (checked against the range size)."""
        if modality in CODEC_MODALITIES:
            raise ValueError("codec tokens need their codebook: use codec_to_global(codes [F, n_q])")
        r = self.range(modality)
        arr = np.asarray(local, dtype=np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= r.size):
            raise ValueError(f"{modality} local ids must lie in [0, {r.size}); got [{arr.min()}, {arr.max()}]")
        return arr + r.start

    def to_local(self, modality: str, ids: Any) -> np.ndarray:
        if modality in CODEC_MODALITIES:
            raise ValueError("codec tokens need their codebook: use codec_to_local(frames [F, n_q])")
        r = self.range(modality)
        arr = np.asarray(ids, dtype=np.int64)
        if arr.size and (arr.min() < r.start or arr.max() >= r.stop):
            raise ValueError(f"ids outside the {modality} range [{r.start}, {r.stop})")
        return arr - r.start

    def codec_to_global(self, codes: Any) -> np.ndarray:
        """``codes [F, n_q]`` (values in [0, 1024), or -1 for a masked frame/token) -> global ids."""
        arr = np.asarray(codes, dtype=np.int64)
        if arr.ndim != 2:
            raise ValueError(f"codec codes must be [frames, n_q], got shape {arr.shape}")
        n_q = arr.shape[1]
        if n_q > self.max_codebooks:
            raise ValueError(f"{n_q} codebooks > the vocabulary's {self.max_codebooks}")
        if arr.size and (arr.min() < -1 or arr.max() >= self.codebook_size):
            raise ValueError(f"codec codes must lie in [0, {self.codebook_size}) or be -1 (masked)")
        offsets = self.ranges["codec"].start + self.codebook_size * np.arange(n_q)
        return np.where(arr < 0, self.mask, arr + offsets)

    def codec_to_local(self, ids: Any) -> np.ndarray:
        """Inverse of :meth:`codec_to_global`; masked ids map back to -1; anything else is an error."""
        arr = np.asarray(ids, dtype=np.int64)
        if arr.ndim != 2:
            raise ValueError(f"codec ids must be [frames, n_q], got shape {arr.shape}")
        offsets = self.ranges["codec"].start + self.codebook_size * np.arange(arr.shape[1])
        local = arr - offsets
        bad = ((local < 0) | (local >= self.codebook_size)) & (arr != self.mask)
        if bad.any():
            f, k = map(int, np.argwhere(bad)[0])
            raise ValueError(f"id {int(arr[f, k])} at frame {f} is not a codebook-{k} token")
        return np.where(arr == self.mask, -1, local)

    def modality_of(self, token: int) -> str:
        """Name of the range (or ``special``) a global id falls in."""
        if token in self._id_to_special or 0 <= token < self.ranges["codec"].start:
            return "special"
        for r in self.ranges.values():
            if token in r:
                return r.name
        raise ValueError(f"id {token} outside the vocabulary (size {self.size})")

    def token_name(self, token: int) -> str:
        """Human-readable name of an id, for debugging sequences."""
        token = int(token)
        if token in self._id_to_special:
            return self._id_to_special[token]
        kind = self.modality_of(token)
        if kind == "codec":
            k, v = divmod(token - self.ranges["codec"].start, self.codebook_size)
            return f"c{k}:{v}"
        if kind == "special":
            return f"<reserved_{token}>"
        return f"{kind}:{token - self.ranges[kind].start}"

    # --- persistence ------------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(self.doc, indent=1) + "\n"

    def save(self, path: str | Path) -> Path:
        """Write ``vocab.json`` (a folder gets ``<folder>/vocab.json``)."""
        p = Path(path)
        if p.is_dir() or not p.suffix:
            p = p / "vocab.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.to_json())
        return p

    def check_compatible(self, other: "Vocab | dict | str | Path", what: str = "checkpoint") -> None:
        """Raise :class:`VocabMismatchError` unless ``other`` is the same vocabulary."""
        o = other if isinstance(other, Vocab) else Vocab(_read_doc(other) if not isinstance(other, dict) else other)
        if (o.name, o.version, o.content_hash) != (self.name, self.version, self.content_hash):
            raise VocabMismatchError(
                f"{what} was built with vocabulary {o.name} {o.version} (hash {o.content_hash}) but this "
                f"code uses {self.name} {self.version} (hash {self.content_hash}); token ids would not match. "
                f"Load it with the matching vocabulary version (a v1+ext one needs its --tasks-file) or re-tokenize."
            )

    def __repr__(self) -> str:
        return f"Vocab({self.name} {self.version}, size={self.size}, hash={self.content_hash})"


def canonical_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def _read_doc(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if p.is_dir():
        p = p / "vocab.json"
    if not p.is_file():
        raise VocabMismatchError(f"no vocabulary file at {p}")
    return json.loads(p.read_text())


@functools.lru_cache(maxsize=8)
def _load_builtin(version: str) -> Vocab:
    path = VOCAB_DIR / f"{version}.json"
    if not path.is_file():
        known = sorted(p.stem for p in VOCAB_DIR.glob("*.json"))
        raise VocabMismatchError(f"unknown vocabulary version {version!r}; this code knows {known}")
    return Vocab(json.loads(path.read_text()))


def load_vocab(version_or_path: str | Path = DEFAULT_VERSION) -> Vocab:
    """A built-in version (``"v1"``) or a ``vocab.json`` path / checkpoint folder. A built-in version
    is extended by the tasks of an active tasks file (:mod:`uniaudio.vocab_extension`)."""
    s = str(version_or_path)
    if "/" in s or s.endswith(".json"):
        return Vocab(_read_doc(s))
    base = _load_builtin(s)
    from uniaudio.tasks import TASKS, active_tasks_file, tasks_lineage, user_modalities

    if active_tasks_file() is None:
        return base
    key = (s, tasks_lineage()["sha256"])
    if key not in _EXTENDED:
        from uniaudio.vocab_extension import extend

        _EXTENDED[key] = extend(base, list(TASKS), user_modalities())
    return _EXTENDED[key]


_EXTENDED: dict[tuple[str, str], Vocab] = {}


def iter_specials(v: Vocab) -> Iterable[tuple[str, int]]:
    return sorted(v.specials.items(), key=lambda kv: kv[1])
