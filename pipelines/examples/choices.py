"""Every seeded choice an example needs, made from token-store metadata only (no codes read).

For each (task, target utterance) this decides the prompt (the tokenizers' 3-s prompt rule:
another utterance of the same speaker, never the target), the speaker-verification trial (label and
partner utterance), the crops, and the speech-edit span. Because the choices are known before any
codes are read, each example gets a fingerprint (inputs' fingerprints + choices + config + vocab),
and an incremental build reads and rebuilds only the examples whose fingerprint is new.

All randomness comes from ``sha256(seed, task, dataset, utt_id)``: independent of row order and of
which other examples are built.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from uniaudio.tasks import get_task
from pipelines.simulation.edits import FRAME_RATE
from uniaudio.tokenizers import SpeakerIndex



@dataclass(frozen=True)
class Choice:
    task: str
    dataset: str
    utt_id: str
    prompt_utt: str | None = None  # utterance the prompt / enrolment / SV partner is cut from
    prompt_start: int = 0  # its window [prompt_start, prompt_start + prompt_len)
    prompt_len: int = 0
    prompt_role: str = ""  # "" = the prompt utterance's own codes, "enrolment_" = the row's enrolment codes
    crop_start: int = 0  # SV: window of the target's own codes used as the source
    crop_len: int = 0
    label: int | None = None  # SV: 1 same speaker, 0 different
    span: tuple[int, int] | None = None  # speech edit: masked frames [a, b)
    skip: str | None = None  # why no example can be built

    @property
    def example_id(self) -> str:
        return f"{self.task}/{self.dataset}/{self.utt_id}"

    def utt_ids(self) -> list[str]:
        return [self.utt_id] + ([self.prompt_utt] if self.prompt_utt and self.prompt_utt != self.utt_id else [])

    def fingerprint(self, row_fps: dict[str, str], salt: str) -> str:
        """Hash of everything the example depends on: its rows' fingerprints + tokenizer versions
        (``row_fps``), the choices, and ``salt`` (config + vocabulary hashes)."""
        blob = json.dumps({"c": asdict(self), "rows": [row_fps[u] for u in self.utt_ids()], "salt": salt},
                          sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


def rng_for(seed: int, *keys: str) -> np.random.Generator:
    digest = hashlib.sha256("\x00".join([str(seed), *keys]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def split_of(dataset: str, utt_id: str, valid_fraction: float) -> str:
    """``valid`` for a stable ``valid_fraction`` of utterances (every task of one utterance agrees)."""
    h = int.from_bytes(hashlib.sha256(f"{dataset}\x00{utt_id}".encode()).digest()[:8], "little")
    return "valid" if h / 2**64 < valid_fraction else "train"


class DatasetChoices:
    """Makes the choices for one dataset from its metadata rows (dicts with utt_id, speaker, n_frames,
    tasks, extra_json, phones, enrolment_n_frames)."""

    def __init__(self, dataset: str, rows: list[dict[str, Any]], cfg):
        self.dataset, self.cfg, self.rows = dataset, cfg, {r["utt_id"]: r for r in rows}
        self.index = SpeakerIndex([(r["utt_id"], r.get("speaker"), r["n_frames"]) for r in rows], cfg.prompt_frames)
        self.speakers = sorted(self.index.by_speaker)

    def choose(self, task: str, utt_id: str) -> Choice:
        row, cfg = self.rows[utt_id], self.cfg
        base = Choice(task, self.dataset, utt_id)
        rng = rng_for(cfg.seed, task, self.dataset, utt_id)
        pairing = get_task(task).pairing  # the task declaration's ``pairing``
        if pairing == "speaker_prompt":
            pick = self.index.pick(utt_id, cfg.seed)
            if pick is None:
                return _skip(base, "no_prompt")
            return _with(base, prompt_utt=pick.utt_id, prompt_start=pick.start_frame, prompt_len=pick.num_frames)
        if pairing == "enrolment":
            if row.get("enrolment_n_frames"):
                start, n = _window(rng, int(row["enrolment_n_frames"]), cfg.prompt_frames)
                return _with(base, prompt_utt=utt_id, prompt_start=start, prompt_len=n, prompt_role="enrolment_")
            pick = self.index.pick(utt_id, cfg.seed)
            if pick is None:
                return _skip(base, "no_enrolment")
            return _with(base, prompt_utt=pick.utt_id, prompt_start=pick.start_frame, prompt_len=pick.num_frames)
        if pairing == "sv_trial":
            return self._sv(base, row, rng)
        if pairing == "edit_span":
            return self._edit(base, row, rng)
        return base

    def _sv(self, base: Choice, row: dict, rng: np.random.Generator) -> Choice:
        cfg = self.cfg
        crop_start, crop_len = _window(rng, int(row["n_frames"]), cfg.prompt_frames)
        spk = row.get("speaker")
        positive = rng.random() < cfg.sv_positive_fraction
        if positive:
            pick = self.index.pick(base.utt_id, cfg.seed)
            if pick is None:
                return _skip(base, "no_prompt")
            return _with(base, prompt_utt=pick.utt_id, prompt_start=pick.start_frame, prompt_len=pick.num_frames,
                         crop_start=crop_start, crop_len=crop_len, label=1)
        others = [s for s in self.speakers if s != spk]
        if spk is None or not others:
            return _skip(base, "no_other_speaker")
        utts = self.index.by_speaker[others[int(rng.integers(len(others)))]]
        utt, frames = utts[int(rng.integers(len(utts)))]
        start, n = _window(rng, frames, cfg.prompt_frames)
        return _with(base, prompt_utt=utt, prompt_start=start, prompt_len=n, crop_start=crop_start,
                     crop_len=crop_len, label=0)

    def _edit(self, base: Choice, row: dict, rng: np.random.Generator) -> Choice:
        """The masked span: the simulator's (``edit_span``), or 1-2 consecutive words of the row's word
        alignment (``word_times``: the tokenizer ran pipelines.alignment on real speech), on word
        boundaries in codec frames. A row with neither has no usable span (``no_alignment``)."""
        n_frames = int(row["n_frames"])
        extra = json.loads(row["extra_json"]) if row.get("extra_json") else {}
        span, times = extra.get("edit_span"), extra.get("word_times")
        if isinstance(span, dict) and "start_frame" in span and "end_frame" in span:
            a, b = int(span["start_frame"]), min(int(span["end_frame"]), n_frames)  # aligned by the simulator
        elif isinstance(times, list) and times:
            if len(times) < 2:
                return _skip(base, "too_few_words")
            k = int(rng.integers(self.cfg.edit_min_words, min(self.cfg.edit_max_words, len(times) - 1) + 1))
            first = int(rng.integers(len(times) - k + 1))
            a = int(np.floor(float(times[first][0]) * FRAME_RATE + 1e-9))
            b = min(int(np.ceil(float(times[first + k - 1][1]) * FRAME_RATE - 1e-9)), n_frames)
        else:
            return _skip(base, "no_alignment")
        if not 0 <= a < b <= n_frames:
            return _skip(base, "bad_edit_span")
        return _with(base, span=(a, b))


def _window(rng: np.random.Generator, frames: int, length: int) -> tuple[int, int]:
    """A random frame-aligned window of ``length`` (the whole thing when shorter)."""
    if frames <= length:
        return 0, frames
    return int(rng.integers(frames - length + 1)), length


def _with(c: Choice, **kw) -> Choice:
    return Choice(**{**asdict(c), **kw})


def _skip(c: Choice, reason: str) -> Choice:
    return _with(c, skip=reason)
