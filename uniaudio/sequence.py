"""Build the frame sequence of one example, and parse generated frames back. Pure functions, no I/O.

The LM works on frames of ``n_q`` tokens (3 codec codebooks). A sequence is::

    <start> <task:T> [<m_start> cond <m_end>]... <target_start> target <target_end> <end>

where every non-audio token (markers, phones, units, text ids, placeholders) is repeated ``n_q``
times to fill a frame, audio segments contribute one frame per codec frame, and continuous segments
(text embeddings) become ``<continuous>`` placeholder frames whose float payload travels beside the
ids. The loss covers the target content, its end marker and the final ``<end>`` frame; everything up
to and including ``<target_start>`` is the prefix the model is conditioned on at generation time.

Inputs are never modified (the reference masked speech-edit spans in place in its cached dataset).

>>> import numpy as np
>>> from uniaudio.vocab import load_vocab
>>> v = load_vocab()
>>> seq = build_sequence("se", {"source": np.zeros((4, 3), int), "target": np.ones((5, 3), int)}, v)
>>> seq.frames.shape, seq.prefix_len, int(seq.loss_mask.sum())
((16, 3), 9, 7)
>>> parse_audio(seq.frames[seq.prefix_len:], v).shape
(5, 3)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from uniaudio.tasks import Segment, TaskTemplate, get_task
from uniaudio.vocab import CODEC_MODALITIES, Vocab

DEFAULT_N_Q = 3


@dataclass
class Sequence:
    """One example as frames. ``frames[t]`` holds the n_q global ids of frame t."""

    task: str
    frames: np.ndarray  # int64 [T, n_q]
    loss_mask: np.ndarray  # bool [T]: frames the loss is computed on
    prefix_len: int  # frames [0, prefix_len) are the conditioning prefix (ends with <target_start>)
    cont_positions: np.ndarray  # int64 [L]: frame index of each continuous placeholder
    cont_values: np.ndarray  # float32 [L, D]: their payload (D = 0 when the task has none)
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)  # segment -> content frames [a, b)

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def n_q(self) -> int:
        return int(self.frames.shape[1])


def _marker_frames(token: int, count: int, n_q: int) -> np.ndarray:
    return np.full((count, n_q), token, dtype=np.int64)


def _segment_frames(seg: Segment, value: Any, vocab: Vocab, n_q: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Content frames of one segment (no markers), plus the continuous payload if any."""
    if seg.modality in CODEC_MODALITIES:
        codes = np.asarray(value)
        if codes.ndim != 2 or codes.shape[1] < n_q:
            raise ValueError(f"segment {seg.name!r}: codec codes must be [frames, >= {n_q}], got {codes.shape}")
        return vocab.codec_to_global(codes[:, :n_q]), None
    if vocab.is_continuous(seg.modality):
        emb = np.asarray(value, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[0] == 0:
            raise ValueError(f"segment {seg.name!r}: continuous values must be [L > 0, D], got {emb.shape}")
        return _marker_frames(vocab.continuous, emb.shape[0], n_q), emb
    ids = np.asarray(value)
    if ids.ndim != 1:
        raise ValueError(f"segment {seg.name!r}: {seg.modality} ids must be 1-D, got shape {ids.shape}")
    if ids.size == 0:
        raise ValueError(f"segment {seg.name!r}: empty {seg.modality} sequence")
    glob = vocab.to_global(seg.modality, ids)
    return np.repeat(glob[:, None], n_q, axis=1), None


def build_sequence(
    task: str | TaskTemplate,
    segments: Mapping[str, Any],
    vocab: Vocab,
    n_q: int = DEFAULT_N_Q,
    with_target: bool = True,
) -> Sequence:
    """Frames, loss mask and continuous payload for one example.

    ``segments`` maps each segment name of the task to its content: codec codes ``[F, >=n_q]`` (local
    values, ``-1`` = masked) for audio segments, local ids ``[N]`` for discrete ones, floats ``[L, D]``
    for continuous ones. With ``with_target=False`` the sequence stops after ``<target_start>``: the
    prefix to generate from.
    """
    tmpl = task if isinstance(task, TaskTemplate) else get_task(task)
    needed = tmpl.segments if with_target else tmpl.conditions
    missing = [s.name for s in needed if s.name not in segments]
    if missing:
        raise ValueError(f"task {tmpl.name}: missing segment(s) {missing}")

    parts: list[np.ndarray] = [
        _marker_frames(vocab.start, 1, n_q),
        _marker_frames(vocab.task_id(tmpl.name), 1, n_q),
    ]
    cursor = 2
    spans: dict[str, tuple[int, int]] = {}
    cont_pos: list[np.ndarray] = []
    cont_val: list[np.ndarray] = []
    for seg in tmpl.conditions:
        content, payload = _segment_frames(seg, segments[seg.name], vocab, n_q)
        parts += [_marker_frames(vocab.start_of(seg.modality), 1, n_q), content,
                  _marker_frames(vocab.end_of(seg.modality), 1, n_q)]
        spans[seg.name] = (cursor + 1, cursor + 1 + len(content))
        if payload is not None:
            cont_pos.append(np.arange(cursor + 1, cursor + 1 + len(content)))
            cont_val.append(payload)
        cursor += len(content) + 2

    tgt = tmpl.target
    parts.append(_marker_frames(vocab.start_of(tgt.modality), 1, n_q))
    cursor += 1
    prefix_len = cursor
    if with_target:
        content, _ = _segment_frames(tgt, segments[tgt.name], vocab, n_q)
        parts += [content, _marker_frames(vocab.end_of(tgt.modality), 1, n_q), _marker_frames(vocab.end, 1, n_q)]
        spans[tgt.name] = (cursor, cursor + len(content))
        cursor += len(content) + 2

    frames = np.concatenate(parts, axis=0)
    loss_mask = np.zeros(len(frames), dtype=bool)
    loss_mask[prefix_len:] = with_target
    dims = {v.shape[1] for v in cont_val}
    if len(dims) > 1:
        raise ValueError(f"task {tmpl.name}: continuous segments have different widths {sorted(dims)}")
    width = dims.pop() if dims else 0
    return Sequence(
        task=tmpl.name,
        frames=frames,
        loss_mask=loss_mask,
        prefix_len=prefix_len,
        cont_positions=np.concatenate(cont_pos) if cont_pos else np.zeros(0, dtype=np.int64),
        cont_values=np.concatenate(cont_val) if cont_val else np.zeros((0, width), dtype=np.float32),
        spans=spans,
    )


def mask_span(codes: np.ndarray, start: int, stop: int) -> np.ndarray:
    """A copy of ``codes [F, n_q]`` with frames [start, stop) masked (-1 -> the vocabulary's <mask>)."""
    out = np.array(codes, copy=True)
    out[max(start, 0) : max(stop, 0)] = -1
    return out


# --- inverse ---------------------------------------------------------------------------------------


def parse_audio(frames: np.ndarray, vocab: Vocab) -> np.ndarray:
    """Generated frames (after the prefix) -> local codes ``[F, n_q]``, stopping at ``<audio_end>``.

    A frame counts as the end when its *first* token is the end marker (generation only allows the
    end marker at local position 0, so a partial frame can never be returned).
    """
    frames = np.asarray(frames, dtype=np.int64)
    end = vocab.end_of("audio")
    stops = np.nonzero(frames[:, 0] == end)[0] if len(frames) else np.zeros(0, dtype=np.int64)
    content = frames[: stops[0]] if len(stops) else frames
    local = vocab.codec_to_local(content) if len(content) else np.zeros((0, frames.shape[1]), np.int64)
    if (local < 0).any():
        raise ValueError("generated audio contains <mask> tokens")
    return local


def parse_tokens(frames: np.ndarray, vocab: Vocab, modality: str) -> np.ndarray:
    """Generated frames of a repeated-token modality (text, label) -> local ids, stopping at its end marker."""
    frames = np.asarray(frames, dtype=np.int64)
    col = frames[:, 0] if len(frames) else np.zeros(0, np.int64)
    stops = np.nonzero(col == vocab.end_of(modality))[0]
    col = col[: stops[0]] if len(stops) else col
    return vocab.to_local(modality, col)


def parse_sequence(seq: Sequence, vocab: Vocab) -> dict[str, np.ndarray]:
    """Recover every segment's content from a built sequence (the inverse of :func:`build_sequence`)."""
    tmpl = get_task(seq.task)
    out: dict[str, np.ndarray] = {}
    for seg in tmpl.segments:
        if seg.name not in seq.spans:
            continue
        a, b = seq.spans[seg.name]
        block = seq.frames[a:b]
        if seg.modality in CODEC_MODALITIES:
            out[seg.name] = vocab.codec_to_local(block)
        elif vocab.is_continuous(seg.modality):
            sel = (seq.cont_positions >= a) & (seq.cont_positions < b)
            out[seg.name] = seq.cont_values[sel]
        else:
            if not (block == block[:, :1]).all():
                raise ValueError(f"segment {seg.name!r}: a {seg.modality} frame does not repeat one token")
            out[seg.name] = vocab.to_local(seg.modality, block[:, 0])
    return out
