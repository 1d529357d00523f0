"""Request -> the task's condition segments (the generation prefix) and the measures its lengths need.

The same tokenizers as training turn each input into its modality (settings from the model's lineage):

* ``text`` -> phones (tts, plain_tts, instruct_tts, speech_edit);
* ``prompt`` / ``enrolment`` wav -> codec codes, the first ``prompt_seconds`` (3 s, as in training);
* ``source`` wav -> codec codes (se, tse, dereverb, audio_edit, asr, sv; speech_edit with the
  ``edit_span`` frames masked by :func:`uniaudio.sequence.mask_span`), or semantic units (vc);
* ``caption`` / ``instruction`` -> text-embedding states (continuous);
* ``lyrics`` + ``notes`` -> singing phones and MIDI frames on the 50 Hz grid (svs).

Every problem with one request (missing file, unreadable audio, text that fails G2P, a span outside
the source) raises :class:`ConditionError` with the reason; a batch records it and goes on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from uniaudio.generate.requests import Request
from uniaudio.sequence import Sequence, build_sequence, mask_span
from uniaudio.tasks import get_task, parse_rule
from uniaudio.vocab import Vocab

FRAME_RATE = 50
NOT_PHONES = frozenset({"|", "ˈ", "ˌ"})  # word boundaries and stress marks take no time of their own


class ConditionError(ValueError):
    """A request whose inputs cannot be turned into conditions (the message says why)."""


@dataclass
class Conditioned:
    request: Request
    prefix: Sequence  # build_sequence(..., with_target=False)
    info: dict[str, float] = field(default_factory=dict)  # phone_count / source_frames / source_seconds


class Conditioner:
    """Builds prefixes for requests. Tokenizers are created on first use (a TTS-only batch never loads
    the text encoder); ``codec`` is a loaded :class:`codec.Codec`."""

    def __init__(self, codec: Any, tokenizers_cfg: Any, vocab: Vocab, n_q: int, cont_dim: int,
                 prompt_seconds: float = 3.0, max_input_seconds: float = 60.0, limits: Any = None):
        from uniaudio.generate.limits import RequestLimits

        self.codec, self.cfg, self.vocab, self.n_q, self.cont_dim = codec, tokenizers_cfg, vocab, n_q, cont_dim
        self.limits = limits or RequestLimits()
        self.prompt_frames = max(1, int(round(prompt_seconds * FRAME_RATE)))
        self.max_input_seconds = max_input_seconds
        self._toks: dict[str, Any] = {}

    # --- tokenizers ------------------------------------------------------------------------------
    def tokenizer(self, name: str):
        if name not in self._toks:
            from uniaudio import tokenizers as T

            section = getattr(self.cfg, name)
            if name == "semantic" and not section.kmeans_path:
                raise ConditionError("vc needs the semantic-unit k-means model the model was trained with: the "
                                     "lineage has none (set --set tokenizers.semantic.kmeans_path=PATH)")
            make = {"phone": T.PhoneTokenizer, "text_emb": T.TextEmbeddingTokenizer,
                    "semantic": T.SemanticTokenizer, "sing": T.SingTokenizer}[name]
            tok = make(section)
            tok.check()
            self._toks[name] = tok
        return self._toks[name]

    # --- inputs ----------------------------------------------------------------------------------
    def audio(self, path: str, what: str) -> np.ndarray:
        from uniaudio.audio import AudioError, audio_info, load_audio

        try:
            secs = audio_info(path)[2]  # from the header: a 10-hour file is refused before it is decoded
            if secs > self.max_input_seconds + 1.0:
                raise ConditionError(f"{what} {path}: {secs:.1f} s is longer than max_input_seconds={self.max_input_seconds}")
            wav = load_audio(path)
        except AudioError as err:
            raise ConditionError(f"{what}: {err}") from None
        secs = len(wav) / 16000
        if secs > self.max_input_seconds:
            raise ConditionError(f"{what} {path}: {secs:.1f} s is longer than max_input_seconds={self.max_input_seconds}")
        return wav

    def codes(self, wav: np.ndarray) -> np.ndarray:
        """16 kHz ``[T]`` -> local codes ``[F, n_q]`` int64."""
        import torch

        return self.codec.encode(torch.from_numpy(np.ascontiguousarray(wav)), n_q=self.n_q).T.cpu().numpy().astype(np.int64)

    def prompt_codes(self, path: str, what: str) -> np.ndarray:
        return self.codes(self.audio(path, what))[: self.prompt_frames]

    def phones(self, text: str) -> tuple[np.ndarray, int]:
        from uniaudio.tokenizers import TokenizeError

        try:
            seq = self.tokenizer("phone").tokenize(text)
        except TokenizeError as err:
            raise ConditionError(f"text: {err}") from None
        count = sum(1 for s in seq.symbols if s not in NOT_PHONES)
        if len(seq.ids) > self.limits.max_phones:
            raise ConditionError(f"text: {len(seq.ids)} phones, more than limits.max_phones={self.limits.max_phones}")
        return np.asarray(seq.ids, dtype=np.int64), max(count, 1)

    def embedding(self, text: str, what: str) -> np.ndarray:
        from uniaudio.tokenizers import TokenizeError

        tok = self.tokenizer("text_emb")
        if tok.dim != self.cont_dim:
            raise ConditionError(f"{what}: the text encoder gives {tok.dim}-d states, the model takes {self.cont_dim}-d")
        try:
            return np.asarray(tok.tokenize(text), dtype=np.float32)
        except TokenizeError as err:
            raise ConditionError(f"{what}: {err}") from None

    # --- one request -----------------------------------------------------------------------------
    def condition(self, req: Request) -> Conditioned:
        tmpl = get_task(req.task)
        segs: dict[str, Any] = {}
        frames: dict[str, int] = {}
        info: dict[str, float] = {}
        singing: tuple[np.ndarray, np.ndarray] | None = None
        for seg in tmpl.conditions:  # each segment by its declared ``request`` rule (uniaudio.tasks.spec)
            name = seg.name
            fn, args = parse_rule(seg.request)
            if fn == "phones":
                segs[name], info["phone_count"] = self.phones(getattr(req, args[0]))
            elif fn == "prompt_codes":  # the first 3 s (prompt, enrolment, the SV excerpt)
                segs[name] = self.prompt_codes(getattr(req, args[0]), args[0])
            elif fn in ("codes", "masked_codes"):
                wav = self.audio(getattr(req, args[0]), args[0])
                info["source_seconds"] = len(wav) / 16000
                codes = self.codes(wav)
                segs[name] = self._mask(codes, getattr(req, args[1])) if fn == "masked_codes" else codes
            elif fn == "semantic":
                segs[name] = self._semantic(getattr(req, args[0]))
            elif fn == "embedding":
                segs[name] = self.embedding(getattr(req, args[0]), args[0])
            elif fn == "singing":  # one tokenizer call gives both the phone and the MIDI segment
                singing = singing or self._singing(req)
                segs[name] = singing[0] if seg.modality == "sing_phone" else singing[1]
            else:  # pragma: no cover - the task file loader rejects unknown rules
                raise ConditionError(f"task {req.task}: no conditioning rule {seg.request!r} for segment {name!r}")
            frames[name] = len(segs[name])
        if tmpl.length_from is not None:
            info["source_frames"] = frames[tmpl.length_from]
        try:
            prefix = build_sequence(tmpl, segs, self.vocab, n_q=self.n_q, with_target=False)
        except ValueError as err:
            raise ConditionError(f"task {req.task}: {err}") from None
        if prefix.num_frames > self.limits.max_prefix_frames:
            raise ConditionError(f"task {req.task}: the conditions make {prefix.num_frames} frames, more than "
                                 f"limits.max_prefix_frames={self.limits.max_prefix_frames}")
        return Conditioned(req, prefix, info)

    def _mask(self, codes: np.ndarray, span: tuple[float, float]) -> np.ndarray:
        start, end = int(math.floor(span[0] * FRAME_RATE)), int(math.ceil(span[1] * FRAME_RATE))
        if start >= len(codes):
            raise ConditionError(f"edit_span starts at {span[0]} s, after the end of the source ({len(codes) / FRAME_RATE:.2f} s)")
        return mask_span(codes, start, min(end, len(codes)))

    def _semantic(self, path: str) -> np.ndarray:
        from uniaudio.tokenizers import TokenizeError

        try:
            ids = self.tokenizer("semantic").tokenize(self.audio(path, "source"))
        except TokenizeError as err:
            raise ConditionError(f"source: {err}") from None
        return np.asarray(ids, dtype=np.int64)

    def _singing(self, req: Request) -> tuple[np.ndarray, np.ndarray]:
        from uniaudio.tokenizers import SingInput, TokenizeError

        try:
            seq = self.tokenizer("sing").tokenize(SingInput(notes=req.notes, lyrics=req.lyrics))
        except TokenizeError as err:
            raise ConditionError(f"lyrics/notes: {err}") from None
        return np.asarray(seq.phone_ids, dtype=np.int64), np.asarray(seq.midi_ids, dtype=np.int64)
