"""Condition dropout: the "unconditional" version of an example, for classifier-free guidance (CFG).

The reference UniAudio has no CFG (docs: UNIAUDIO.md §6, §9). Training drops the text condition of a
fraction of examples (``LoaderConfig.cond_dropout``) so the same model also learns ``p(target | task,
other conditions)``; generation then mixes the conditional and unconditional logits
(``GenerateConfig.cfg_scale``). Both sides build the unconditional sequence with :func:`drop_segments`,
so what the model is trained on and what it is guided with are the same frames.

Dropping a segment removes its *content* frames and keeps its start/end markers: an empty segment
``<text_emb_start> <text_emb_end>`` tells the model "this condition is absent" (a zero-length
continuous segment cannot be written by :func:`uniaudio.sequence.build_sequence`, which refuses empty
conditions, so dropout is the only way such a sequence arises). Later frames shift left: ``prefix_len``
and ``cont_positions`` move with them, the dropped segment's continuous payload goes, and the target
frames (the loss span) are unchanged.

Segments are found from the marker frames (walking the task template's conditions in order), so the
function works on stored rows without their build-time spans.

>>> import numpy as np
>>> from uniaudio.sequence import build_sequence
>>> from uniaudio.vocab import load_vocab
>>> v = load_vocab()
>>> seq = build_sequence("text_to_sound", {"caption": np.ones((4, 8), np.float32),
...                                       "target": np.zeros((5, 3), int)}, v)
>>> seq.num_frames, seq.prefix_len, len(seq.cont_positions)
(16, 9, 4)
>>> un = drop_conditions(seq, ["caption"], v)
>>> un.num_frames, un.prefix_len, len(un.cont_positions), un.cont_values.shape
(12, 5, 0, (0, 8))
>>> bool((un.frames[un.prefix_len:] == seq.frames[seq.prefix_len:]).all())
True
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any, Iterable, Mapping

import numpy as np

from uniaudio.tasks import TASKS, get_task
from uniaudio.vocab import Vocab

#: Which conditions CFG drops per task: the text (caption / instruction) of the text-conditioned tasks.
#: The audio inputs of edit tasks stay: "edit this audio, with no instruction" is the useful contrast.
DEFAULT_DROP_SEGMENTS: dict[str, tuple[str, ...]] = {
    "text_to_sound": ("caption",),
    "text_to_music": ("caption",),
    "audio_edit": ("instruction",),
    "instruct_tts": ("instruction",),
}


def default_drop_segments() -> dict[str, list[str]]:
    """A fresh, mutable copy of :data:`DEFAULT_DROP_SEGMENTS` (config defaults)."""
    return {t: list(s) for t, s in DEFAULT_DROP_SEGMENTS.items()}


def check_drop_segments(mapping: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Validate ``task -> [condition names]``: known tasks, names that are conditions of that task
    (never the target: that would remove the loss span). Returns a plain dict; raises ValueError."""
    out: dict[str, list[str]] = {}
    for task, names in mapping.items():
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
        conds = [s.name for s in TASKS[task].conditions]
        names = list(names)
        bad = [n for n in names if n not in conds]
        if bad:
            raise ValueError(f"task {task}: {bad} are not condition segments (conditions: {conds})")
        if len(set(names)) != len(names):
            raise ValueError(f"task {task}: repeated segment names {names}")
        out[task] = names
    return out


def condition_spans(task: str, frames: np.ndarray, vocab: Vocab, prefix_len: int | None = None
                    ) -> dict[str, tuple[int, int]]:
    """Content frames ``[a, b)`` of every condition segment, found from the marker frames.

    ``frames [T, n_q]`` is a whole example or just its prefix. Raises ValueError when the frames do not
    follow the task's template (a row of another task, a corrupt row) or, with ``prefix_len``, when the
    target start marker is not the last prefix frame.
    """
    tmpl = get_task(task)
    f = np.asarray(frames)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"task {task}: frames must be [T >= 2, n_q], got shape {f.shape}")

    def is_marker(t: int, token: int) -> bool:
        return t < len(f) and bool((f[t] == token).all())

    if not (is_marker(0, vocab.start) and is_marker(1, vocab.task_id(tmpl.name))):
        raise ValueError(f"task {task}: the sequence does not start with <start> <task:{task}>")
    col = f[:, 0]
    spans: dict[str, tuple[int, int]] = {}
    cursor = 2
    for seg in tmpl.conditions:
        if not is_marker(cursor, vocab.start_of(seg.modality)):
            raise ValueError(f"task {task}: no {seg.modality} start marker for segment {seg.name!r} at frame {cursor}")
        # content ids live in modality ranges, never in the specials block, so the first end-marker
        # frame after the start marker closes the segment
        ends = np.nonzero(col[cursor + 1 :] == vocab.end_of(seg.modality))[0]
        if not len(ends) or not is_marker(cursor + 1 + int(ends[0]), vocab.end_of(seg.modality)):
            raise ValueError(f"task {task}: segment {seg.name!r} has no {seg.modality} end marker frame")
        b = cursor + 1 + int(ends[0])
        spans[seg.name] = (cursor + 1, b)
        cursor = b + 1
    if not is_marker(cursor, vocab.start_of(tmpl.target.modality)):
        raise ValueError(f"task {task}: no target start marker at frame {cursor}")
    if prefix_len is not None and prefix_len != cursor + 1:
        raise ValueError(f"task {task}: prefix_len {prefix_len} but the target starts after frame {cursor}")
    return spans


def drop_segments(task: str, frames: np.ndarray, prefix_len: int, cont_positions: np.ndarray,
                  cont_values: np.ndarray, names: Iterable[str], vocab: Vocab):
    """Remove the content of the named condition segments.

    Returns ``(frames [T', n_q], prefix_len', cont_positions [L'], cont_values [L', D], keep [T])``
    where ``keep`` marks the input frames that survive (callers use it to move other per-frame data).
    Inputs are not modified. Naming an already-empty segment is a no-op.
    """
    names = list(names)
    check_drop_segments({task: names})
    f = np.asarray(frames, dtype=np.int64)
    spans = condition_spans(task, f[:prefix_len], vocab, prefix_len)
    keep = np.ones(len(f), dtype=bool)
    for n in names:
        a, b = spans[n]
        keep[a:b] = False
    pos = np.asarray(cont_positions, dtype=np.int64).reshape(-1)
    vals = np.asarray(cont_values)
    if vals.ndim != 2 or len(pos) != len(vals):
        raise ValueError(f"task {task}: continuous payload {vals.shape} does not match {len(pos)} positions")
    if len(pos) and (pos.min() < 0 or pos.max() >= len(f)):
        raise ValueError(f"task {task}: continuous positions outside the {len(f)} frames")
    kept_before = np.concatenate([[0], np.cumsum(keep)])  # new index of input frame t = kept_before[t]
    sel = keep[pos]
    return f[keep], int(kept_before[prefix_len]), kept_before[pos[sel]].astype(np.int64), vals[sel], keep


def drop_conditions(seq, names: Iterable[str], vocab: Vocab):
    """:func:`drop_segments` on a :class:`uniaudio.sequence.Sequence` (a whole example or a generation
    prefix from ``build_sequence(..., with_target=False)``) -> a new Sequence; ``spans`` are shifted
    (dropped segments become empty spans)."""
    frames, prefix, pos, vals, keep = drop_segments(seq.task, seq.frames, seq.prefix_len, seq.cont_positions,
                                                    seq.cont_values, names, vocab)
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    spans = {k: (int(kept_before[a]), int(kept_before[b])) for k, (a, b) in seq.spans.items()}
    return replace(seq, frames=frames, loss_mask=seq.loss_mask[keep], prefix_len=prefix, cont_positions=pos,
                   cont_values=vals, spans=spans)


def drop_row(row: Mapping[str, Any], names: Iterable[str], vocab: Vocab) -> dict[str, Any]:
    """:func:`drop_segments` on one example-store row (``uniaudio/stores/schema.example_store_schema``: flattened
    ``frames``, ``cont_values`` as float16 bytes) -> a new row dict with ``frames``, ``n_frames``,
    ``prefix_len``, ``cont_positions`` and ``cont_values`` replaced. The float16 payload of the kept
    placeholders is copied byte for byte (no float round trip)."""
    n_q = int(row["n_q"])
    flat = np.asarray(row["frames"], dtype=np.int64)
    if flat.size % n_q:
        raise ValueError(f"example {row.get('example_id')}: {flat.size} frame ids is not a multiple of n_q={n_q}")
    pos = np.asarray(row.get("cont_positions") if row.get("cont_positions") is not None else [], dtype=np.int64)
    dim = int(row.get("cont_dim") or 0)
    half = np.frombuffer(row.get("cont_values") or b"", dtype="<f2")
    half = half.reshape(-1, dim) if dim else half.reshape(0, 0)
    frames, prefix, new_pos, new_half, _ = drop_segments(
        str(row["task"]), flat.reshape(-1, n_q), int(row["prefix_len"]), pos, half, names, vocab)
    out = dict(row)
    out.update(frames=frames.reshape(-1).tolist(), n_frames=len(frames), prefix_len=prefix)
    # the example builder's convention: no continuous frames -> all three columns null
    if len(new_pos):
        out.update(cont_positions=new_pos.tolist(), cont_values=np.ascontiguousarray(new_half).tobytes(), cont_dim=dim)
    else:
        out.update(cont_positions=None, cont_values=None, cont_dim=None)
    return out


def dropout_draw(seed: int, epoch: int, example_id: str, copy: int = 0) -> float:
    """A uniform [0, 1) number that is a pure function of (seed, epoch, example, copy within the epoch).

    The loader drops an example's conditions when it is below ``cond_dropout``: the decision does not
    depend on the rank, the world size, the batch or any RNG state, so an exact resume replays it
    exactly, and each epoch (and each resampled copy) gets a fresh draw.
    """
    msg = f"{int(seed)}\x00{int(epoch)}\x00{example_id}\x00{int(copy)}".encode()
    digest = hashlib.blake2b(msg, digest_size=8, person=b"cond-drop").digest()
    return (int.from_bytes(digest, "little") >> 11) * (1.0 / (1 << 53))
