"""The 3-second audio prompt rule: which utterance and which 150-frame window prompt a target.

Rule (UniAudio §2.8, with its bug fixed — the reference may pick the target itself):
- candidates are the *other* utterances of the target's speaker, never the target;
- those of at least ``prompt_frames`` frames (150 = 3 s at 50 Hz) are preferred; if none is that long,
  the longest other utterance is used whole (a prompt shorter than 3 s); if the speaker has no other
  utterance the rule returns None and the caller skips or quarantines the example;
- the choice and a random window start, aligned to frames, are drawn from a generator seeded by
  sha256(seed, target utt id): deterministic, independent of the order rows arrive in and of which
  other targets are processed.

>>> idx = SpeakerIndex([("a1", "spk", 400), ("a2", "spk", 200), ("b1", "other", 500)])
>>> c = idx.pick("a1", seed=0)
>>> c.utt_id, c.num_frames, 0 <= c.start_frame <= 200 - 150
('a2', 150, True)
>>> idx.pick("b1", seed=0) is None
True
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

import numpy as np

PROMPT_FRAMES = 150  # 3 s at 50 Hz


@dataclass(frozen=True)
class PromptChoice:
    utt_id: str
    start_frame: int
    num_frames: int  # PROMPT_FRAMES, or the whole utterance when it is shorter

    @property
    def end_frame(self) -> int:
        return self.start_frame + self.num_frames

    def crop(self, codes: np.ndarray) -> np.ndarray:
        """Cut the window out of the prompt utterance's codes ``[F, n_q]`` (or ``[F]``)."""
        if codes.shape[0] < self.end_frame:
            raise ValueError(f"prompt {self.utt_id}: has {codes.shape[0]} frames, window ends at {self.end_frame}")
        return codes[self.start_frame : self.end_frame]


def _rng(seed: int, utt_id: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}\x00{utt_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


class SpeakerIndex:
    """Utterances grouped by speaker: ``(utt_id, speaker, num_frames)`` rows; speaker None is skipped
    (an utterance with no speaker can neither get nor give a prompt)."""

    def __init__(self, rows: Iterable[tuple[str, str | None, int]], prompt_frames: int = PROMPT_FRAMES):
        self.prompt_frames = prompt_frames
        self.speaker_of: dict[str, str | None] = {}
        by_spk: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for utt, spk, frames in rows:
            if utt in self.speaker_of:
                raise ValueError(f"duplicate utterance id {utt!r} in the speaker index")
            self.speaker_of[utt] = spk
            if spk is not None and int(frames) > 0:
                by_spk[spk].append((utt, int(frames)))
        # Sorted by id: the pick must not depend on the order rows arrived in.
        self.by_speaker = {s: sorted(v) for s, v in by_spk.items()}

    def pick(self, target_utt: str, seed: int = 0) -> PromptChoice | None:
        """The prompt for ``target_utt`` (see the module doc), or None if its speaker has no other
        utterance (or it has no speaker). Raises KeyError for an id not in the index."""
        spk = self.speaker_of[target_utt]
        if spk is None:
            return None
        others = [(u, f) for u, f in self.by_speaker.get(spk, []) if u != target_utt]
        if not others:
            return None
        rng = _rng(seed, target_utt)
        long_enough = [(u, f) for u, f in others if f >= self.prompt_frames]
        if long_enough:
            utt, frames = long_enough[int(rng.integers(len(long_enough)))]
            start = int(rng.integers(frames - self.prompt_frames + 1))
            return PromptChoice(utt, start, self.prompt_frames)
        utt, frames = max(others, key=lambda x: (x[1], x[0]))
        return PromptChoice(utt, 0, frames)
