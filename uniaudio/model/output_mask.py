"""Which output ids are allowed where: one rule for training loss, accuracy and decoding.

The head scores the whole vocabulary V at every local position; a masked softmax (``-inf`` on
disallowed ids) restricts it. The rule, per frame kind of the target:

* audio target frame, local position k: codebook k's 1024 ids; position 0 also ``<audio_end>``;
* text / label target frame: the modality's id range; position 0 also its end marker;
* the final ``<end>`` frame (after the end-marker frame): only ``<end>`` (it is forced).

Only *informative* tokens count in the loss: all n_q positions of an audio content frame, and only
position 0 of a repeated-token frame (text / label content, end markers), whose other positions are
copies of position 0. The ``<end>`` frame is deterministic and carries no loss.

>>> from uniaudio.vocab import load_vocab
>>> v = load_vocab()
>>> m = allowed_mask("audio", 3, v)
>>> m.shape, int(m[1].sum()), bool(m[0, v.end_of("audio")]), bool(m[1, v.end_of("audio")])
(torch.Size([3, 23552]), 1024, True, False)
"""

from __future__ import annotations

import torch
from torch import Tensor

from uniaudio.vocab import CODEC_MODALITIES, Vocab

# Target modalities a task can have (uniaudio/tasks.py); their index is the frame "kind".
TARGET_MODALITIES = ("audio", "text", "label")
END_KIND = len(TARGET_MODALITIES)  # kind of the final <end> frame


def allowed_mask(target_modality: str, n_q: int, vocab: Vocab) -> Tensor:
    """``bool [n_q, V]``: the ids allowed at each local position of a target frame of this modality."""
    allowed = torch.zeros(n_q, vocab.size, dtype=torch.bool)
    if target_modality in CODEC_MODALITIES:
        for k in range(n_q):
            r = vocab.codebook_range(k)
            allowed[k, r.start : r.stop] = True
    else:
        r = vocab.range(target_modality)
        allowed[:, r.start : r.stop] = True
    allowed[0, vocab.end_of(target_modality)] = True
    return allowed


def end_frame_mask(n_q: int, vocab: Vocab) -> Tensor:
    """``bool [n_q, V]``: only ``<end>``, at every position."""
    allowed = torch.zeros(n_q, vocab.size, dtype=torch.bool)
    allowed[:, vocab.end] = True
    return allowed


class OutputRules:
    """The masks of every frame kind, stacked for vectorised lookup (move with :meth:`to`).

    * ``allowed [K+1, n_q, V]`` (kind ``K`` = the ``<end>`` frame);
    * ``end_marker [K+1]``: the end marker id of each kind;
    * ``multi_token [K+1]``: whether all n_q positions of a content frame carry information;
    * ``kind_of_start [V]``: target start marker id -> kind, ``-1`` for any other id.
    """

    def __init__(self, vocab: Vocab, n_q: int, device: torch.device | str = "cpu"):
        self.vocab, self.n_q = vocab, n_q
        masks = [allowed_mask(m, n_q, vocab) for m in TARGET_MODALITIES] + [end_frame_mask(n_q, vocab)]
        self.allowed = torch.stack(masks).to(device)
        self.end_marker = torch.tensor([vocab.end_of(m) for m in TARGET_MODALITIES] + [vocab.end], device=device)
        self.multi_token = torch.tensor([m in CODEC_MODALITIES for m in TARGET_MODALITIES] + [False], device=device)
        kind_of_start = torch.full((vocab.size,), -1, dtype=torch.long)
        for i, m in enumerate(TARGET_MODALITIES):
            kind_of_start[vocab.start_of(m)] = i
        self.kind_of_start = kind_of_start.to(device)
        self._ids: dict[tuple[int, int], Tensor] = {}

    def allowed_ids(self, kind: int, k: int) -> Tensor:
        """Sorted ids allowed at local position ``k`` of a frame of kind ``kind`` (cached)."""
        key = (kind, k)
        if key not in self._ids:
            self._ids[key] = self.allowed[kind, k].nonzero().squeeze(1)
        return self._ids[key]

    def to(self, device: torch.device | str) -> "OutputRules":
        out = object.__new__(OutputRules)
        out.vocab, out.n_q = self.vocab, self.n_q
        for name in ("allowed", "end_marker", "multi_token", "kind_of_start"):
            setattr(out, name, getattr(self, name).to(device))
        out._ids = {}
        return out

    def kind_index(self, modality: str) -> int:
        return TARGET_MODALITIES.index(modality)

    def row_kinds(self, frames: Tensor, prefix_lens: Tensor) -> Tensor:
        """``[B]`` target kind of each row, read from its ``<target_start>`` frame (``prefix_len - 1``);
        ``-1`` when that frame is not a target start marker."""
        idx = (prefix_lens - 1).clamp(min=0)
        marker = frames[torch.arange(frames.shape[0], device=frames.device), idx, 0]
        return self.kind_of_start[marker]

    def frame_kinds(self, frames: Tensor, prefix_lens: Tensor) -> Tensor:
        """``[B, T]`` kind of every frame: the row's target kind, or ``END_KIND`` for ``<end>`` frames."""
        rows = self.row_kinds(frames, prefix_lens).clamp(min=0)
        kinds = rows[:, None].expand(frames.shape[:2])
        return torch.where(frames[..., 0] == self.vocab.end, torch.full_like(kinds, END_KIND), kinds)

    def informative(self, frames: Tensor, loss_mask: Tensor, kinds: Tensor) -> Tensor:
        """``bool [B, T, n_q]``: the tokens the loss and accuracy count (see the module docstring)."""
        first = frames[..., 0]
        content = self.multi_token[kinds] & (first != self.end_marker[kinds])  # all positions inform
        pos0 = torch.zeros(frames.shape[-1], dtype=torch.bool, device=frames.device)
        pos0[0] = True
        live = loss_mask & (kinds != END_KIND)
        return live[..., None] & (pos0 | content[..., None])
