"""Edit pairs: audio edit (add / drop a sound event, with an instruction) and speech edit (mask 1-2 words).

Audio edit: an event track (the event scaled to an event-to-background ratio, EBR, over whole signals,
and placed at a random offset in silence the length of the background) is added to the background.
``add``: source = background, target = background + event; ``drop``: the reverse. In both,
``with_event == background + event`` exactly (float32).

Speech edit: the span to mask is 1-2 consecutive words (the whole utterance when it has no more words
than ``max_words``, as in the reference). Word times come from an alignment when given, otherwise from
a proportional estimate: the utterance is split in proportion to each word's letter count. The span is
recorded in seconds and in codec frames at 50 Hz (``start_frame`` floor, ``end_frame`` ceil, exclusive).

>>> import numpy as np
>>> s = pick_edit_span("the quick brown fox".split(), 2.0, np.random.default_rng(0))
>>> s.timing, 1 <= len(s.words) <= 2, s.start_frame == int(s.start_s * 50)
('proportional', True, True)
>>> instruction_for("add", "A dog barking.")
'Add the sound of a dog barking'
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal, Sequence

import numpy as np

from pipelines.simulation.mixing import PEAK, mix_at_snr
from uniaudio.audio import SAMPLE_RATE

FRAME_RATE = 50  # codec frames per second at 16 kHz (hop 320)


# ---------------------------------------------------------------- audio edit
@dataclass(frozen=True)
class AudioEdit:
    source: np.ndarray  # what the model is given
    target: np.ndarray  # what it must produce
    background: np.ndarray
    event: np.ndarray  # the placed, scaled event track (same length as background)
    op: Literal["add", "drop"]
    instruction: str
    ebr_db: float
    offset_s: float  # where the event starts in the output (seconds)
    event_start_s: float  # where the used excerpt starts inside a longer event file (seconds)
    scale: float  # peak-protection factor applied to all parts

    @property
    def with_event(self) -> np.ndarray:
        return self.target if self.op == "add" else self.source


def instruction_for(op: str, label: str) -> str:
    """``("add", "A dog barking.")`` -> ``"Add the sound of a dog barking"``."""
    text = " ".join(str(label).split()).rstrip(".!?;:, ")
    if not text:
        raise ValueError("an audio edit needs a non-empty event label")
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        text = text[0].lower() + text[1:]  # "A dog" -> "a dog", but keep acronyms ("TV static")
    verb = {"add": "Add", "drop": "Remove"}.get(op)
    if verb is None:
        raise ValueError(f"op must be 'add' or 'drop', got {op!r}")
    return f"{verb} the sound of {text}"


def audio_edit(
    background: np.ndarray,
    event: np.ndarray,
    label: str,
    op: Literal["add", "drop"],
    ebr_db: float,
    rng: np.random.Generator,
    peak: float = PEAK,
) -> AudioEdit:
    """Build one add/drop pair (see module docstring)."""
    instruction = instruction_for(op, label)
    # The event is the "interference" of a mixture whose SNR is the background-to-event ratio.
    m = mix_at_snr(background, event, -ebr_db, rng, fit="pad", peak=peak)
    # fit_length(..., "pad") reports a shorter event's position as a negative offset and a longer
    # event's crop point as a positive one; split them into "where in the output" / "where in the event".
    offset_s = -m.offset / SAMPLE_RATE if m.offset < 0 else 0.0
    crop_s = m.offset / SAMPLE_RATE if m.offset > 0 else 0.0
    if op == "add":
        src, tgt = m.target, m.mixture
    else:
        src, tgt = m.mixture, m.target
    return AudioEdit(src, tgt, m.target, m.interference, op, instruction, float(ebr_db), offset_s, crop_s, m.scale)


# ---------------------------------------------------------------- speech edit
@dataclass(frozen=True)
class EditSpan:
    first_word: int  # index of the first masked word
    end_word: int  # one past the last masked word
    words: tuple[str, ...]
    start_s: float
    end_s: float
    start_frame: int
    end_frame: int  # exclusive
    timing: Literal["alignment", "proportional"]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["words"] = list(self.words)
        return d


def proportional_word_times(words: Sequence[str], duration_s: float, lead_s: float = 0.0, trail_s: float = 0.0) -> list[tuple[float, float]]:
    """Contiguous word intervals over ``[lead_s, duration_s - trail_s]``, proportional to letter counts."""
    if not words:
        raise ValueError("no words to time")
    start, stop = lead_s, duration_s - trail_s
    if stop <= start:
        raise ValueError(f"no speech time left: duration {duration_s}s, lead {lead_s}s, trail {trail_s}s")
    weights = np.array([max(sum(c.isalnum() for c in w), 1) for w in words], dtype=np.float64)
    edges = start + (stop - start) * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    return [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:])]


def pick_edit_span(
    words: Sequence[str],
    duration_s: float,
    rng: np.random.Generator,
    timings: Sequence[tuple[float, float]] | None = None,
    max_words: int = 2,
    frame_rate: int = FRAME_RATE,
) -> EditSpan:
    """A random span of 1..``max_words`` consecutive words, in seconds and in codec frames."""
    words = list(words)
    if not words:
        raise ValueError("speech edit needs a transcript with at least one word")
    if timings is None:
        times, timing = proportional_word_times(words, duration_s), "proportional"
    else:
        times, timing = [(float(a), float(b)) for a, b in timings], "alignment"
        if len(times) != len(words):
            raise ValueError(f"{len(times)} word timings for {len(words)} words")
        if any(b <= a or a < 0 or b > duration_s + 1e-6 for a, b in times) or any(
            times[i + 1][0] < times[i][0] for i in range(len(times) - 1)
        ):
            raise ValueError("word timings must be increasing intervals inside the utterance")
    if len(words) <= max_words:
        first, end = 0, len(words)  # too short to choose: mask everything, as the reference does
    else:
        n = int(rng.integers(1, max_words + 1))
        first = int(rng.integers(0, len(words) - n + 1))
        end = first + n
    start_s, end_s = times[first][0], times[end - 1][1]
    n_frames = math.ceil(duration_s * frame_rate - 1e-9)
    start_frame = int(math.floor(start_s * frame_rate + 1e-9))
    end_frame = min(int(math.ceil(end_s * frame_rate - 1e-9)), n_frames)
    return EditSpan(first, end, tuple(words[first:end]), start_s, end_s, start_frame, max(end_frame, start_frame + 1), timing)
