"""The generator: load a model (+ codec and tokenizers from its lineage), turn requests into prefixes,
generate them in batches, and decode the outputs (16 kHz wav, asr text, sv label).

>>> # gen = Generator("runs:/<id>/model", GenerateConfig()); outcomes = gen.generate([request])
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence as Seq

import numpy as np

from uniaudio.conditioning_dropout import drop_conditions
from uniaudio.generate.conditioning import ConditionError, Conditioned, Conditioner
from uniaudio.generate.config import GenerateConfig, resolve_device, resolve_dtype
from uniaudio.generate.decoder import LogitsHook, RowSpec, generate
from uniaudio.generate.lengths import FRAME_RATE, length_bounds
from uniaudio.generate.loading import load_codec, load_model, tokenizers_config
from uniaudio.generate.requests import Request
from uniaudio.generate.sampling import request_seed
from uniaudio.sequence import parse_audio, parse_tokens
from uniaudio.tasks import get_task

SV_LABELS = (0, 1)  # the sv target is a yes/no label: only these two label ids are allowed


@dataclass
class Outcome:
    """What one request produced (exactly one of wav / text / label), or why it failed."""

    request: Request
    seed: int = 0
    wav: np.ndarray | None = None  # float32 [T] at 16 kHz
    codes: np.ndarray | None = None  # int64 [F, n_q] local codec codes of the wav
    text: str | None = None  # asr
    label: int | None = None  # sv
    frames: int = 0  # generated content frames
    stop: str = ""  # "eos" (the model ended it) or "max_frames" (the length bound did)
    min_frames: int = 0
    max_frames: int = 0
    cfg_scale: float = 1.0  # classifier-free guidance scale used (1.0 = unguided)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Generator:
    """Everything needed to serve generation requests for one model. Close it (or use ``with``) to
    delete downloaded artifacts."""

    def __init__(self, model_uri: str, cfg: GenerateConfig | None = None, codec_uri: str | None = None,
                 tracking_uri: str | None = None, model_config: str | None = None,
                 logits_hook: LogitsHook | None = None):
        from uniaudio.model import OutputRules
        from uniaudio.tokenizers import ByteTextTokenizer

        self.cfg = cfg = cfg or GenerateConfig()
        self._tmp = tempfile.TemporaryDirectory(prefix="uniaudio-generate-")
        self.device = resolve_device(cfg.device)
        self.loaded = load_model(model_uri, self._tmp.name, self.device, tracking_uri, model_config)
        self.model = self.loaded.model.to(resolve_dtype(cfg.dtype, self.device))
        self.vocab, self.n_q = self.loaded.vocab, self.loaded.config.n_q
        self.codec = load_codec(self.loaded, codec_uri, self._tmp.name, self.device, tracking_uri)
        self.tokenizers_cfg = tokenizers_config(self.loaded.lineage, cfg.tokenizers)
        for line in guidance_warnings(cfg, self.loaded.lineage):
            print(f"warning: {line}", file=sys.stderr, flush=True)
        self.conditioner = Conditioner(self.codec, self.tokenizers_cfg, self.vocab, self.n_q,
                                       self.loaded.config.cont_dim, cfg.prompt_seconds, cfg.max_input_seconds,
                                       cfg.limits)
        self.rules = OutputRules(self.vocab, self.n_q)
        audio = self.rules.allowed[self.rules.kind_index("audio")]
        for k in range(self.n_q):  # a codec with smaller codebooks than the vocabulary's cannot decode the rest
            r = self.vocab.codebook_range(k)
            audio[k, r.start + self.codec.codebook_size : r.stop] = False
        self.text_tok = ByteTextTokenizer(self.tokenizers_cfg.text)
        self.logits_hook = logits_hook
        sv = self.rules.allowed[self.rules.kind_index("label")].clone()
        r = self.vocab.range("label")
        sv[:, r.start : r.stop] = False
        sv[:, [r.start + i for i in SV_LABELS]] = True
        self._sv_allowed = sv

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> "Generator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- requests -> rows ----------------------------------------------------------------------------
    def _row(self, cond: Conditioned, seed: int) -> tuple[RowSpec, int, int]:
        req = cond.request
        b = self._fit_positions(length_bounds(req.task, cond.info, self.cfg.lengths), cond.prefix.num_frames, req.task)
        modality = get_task(req.task).target.modality
        allowed = self._sv_allowed if modality == "label" else None
        w = self.cfg.cfg_scale_of(req.task)
        uncond = drop_conditions(cond.prefix, self.cfg.cfg_segments[req.task], self.vocab) if w != 1.0 else None
        row = RowSpec(cond.prefix, modality, b.min_frames, b.max_frames, seed, allowed, uncond=uncond, cfg_scale=w)
        return row, b.min_frames, b.max_frames

    def _fit_positions(self, b, prefix_frames: int, task: str):
        """A model with a learned position table (an imported published LM: ``block_size`` frames) holds
        the SOS frame, the prefix, the output and its end frame in that many positions: cap the output."""
        c = self.model.config
        if c.positions != "learned":
            return b
        room = c.max_frames - prefix_frames - 2
        if room < 1:
            raise ConditionError(f"{task}: the prompt/conditions take {prefix_frames} frames but the model's learned "
                                 f"position table holds {c.max_frames}; shorten them")
        return type(b)(min(b.min_frames, room), min(b.max_frames, room))

    def seed_of(self, req: Request) -> int:
        return req.seed if req.seed is not None else request_seed(self.cfg.sampling.seed, req.id)

    def generate(self, requests: Seq[Request], progress: Callable[[int], None] | None = None) -> list[Outcome]:
        """Outcomes in request order. A request that cannot be conditioned gets ``error`` set; the
        others are generated ``batch_size`` at a time, grouped by similar lengths."""
        outcomes = [Outcome(r, seed=self.seed_of(r)) for r in requests]
        ready: list[tuple[int, RowSpec]] = []
        for i, o in enumerate(outcomes):
            try:
                row, o.min_frames, o.max_frames = self._row(self.conditioner.condition(o.request), o.seed)
                o.cfg_scale = row.cfg_scale
            except ConditionError as err:
                o.error = str(err)
                continue
            ready.append((i, row))
        # similar lengths together: less padding in the prefill, fewer idle rows in the loop
        ready.sort(key=lambda x: (x[1].max_frames, x[1].prefix.num_frames))
        bs = self.cfg.batch_size
        for start in range(0, len(ready), bs):
            chunk = ready[start : start + bs]
            outs = generate(self.model, [row for _, row in chunk], self.cfg.sampling, rules=self.rules,
                            logits_hook=self.logits_hook, compact=self.cfg.compact, cuda_graph=self.cfg.cuda_graph)
            self._finish([outcomes[i] for i, _ in chunk], outs)
            if progress is not None:
                progress(len(chunk))
        return outcomes

    # --- frames -> outputs ---------------------------------------------------------------------------
    def _finish(self, outcomes: list[Outcome], outs) -> None:
        audio: list[tuple[Outcome, np.ndarray]] = []
        for o, out in zip(outcomes, outs):
            o.frames, o.stop = int(out.frames.shape[0]), out.stop
            modality = get_task(o.request.task).target.modality
            if modality == "text":
                o.text = self.text_tok.decode(parse_tokens(out.frames, self.vocab, "text"))
            elif modality == "label":
                ids = parse_tokens(out.frames, self.vocab, "label")
                o.label = int(ids[0]) if len(ids) else None
                if o.label is None:
                    o.error = "the model produced no label"
            else:
                audio.append((o, parse_audio(out.frames, self.vocab)))
        if audio:
            for (o, codes), wav in zip(audio, self.decode_audio([c for _, c in audio])):
                o.codes, o.wav = codes, wav

    def decode_audio(self, codes: Seq[np.ndarray]) -> list[np.ndarray]:
        """Local codes ``[F_i, n_q]`` -> 16 kHz float32 wavs of ``F_i * 320`` samples (one codec batch)."""
        import torch

        from codec import PAD_CODE

        f_max = max(len(c) for c in codes)
        batch = np.full((len(codes), self.n_q, f_max), PAD_CODE, dtype=np.int64)
        for i, c in enumerate(codes):
            batch[i, :, : len(c)] = c.T
        wav = self.codec.decode(torch.from_numpy(batch)).numpy()
        hop = self.codec.hop_length
        return [wav[i, : len(c) * hop].astype(np.float32) for i, c in enumerate(codes)]


def seconds_of(o: Outcome) -> float:
    return o.frames / FRAME_RATE


def _rel(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path.resolve())


def result_record(o: Outcome, output: str | int, model_uri: str) -> dict:
    """One line of RESULTS.jsonl (the contract in :mod:`uniaudio.evaluate.results`): task, id, output,
    the references passed through, and how it was generated."""
    r = o.request
    rec: dict = {**r.extra, "task": r.task, "id": r.id, "output": output}
    for key in ("reference", "text", "prompt", "enrolment", "source", "caption", "label",
                "instruction", "lyrics", "notes"):
        if getattr(r, key) is not None:
            rec[key] = getattr(r, key)
    if r.edit_span is not None:
        rec["edit_span"] = list(r.edit_span)
    rec.update(seed=o.seed, frames=o.frames, seconds=round(seconds_of(o), 3), stop=o.stop,
               min_frames=o.min_frames, max_frames=o.max_frames, model=model_uri)
    if o.cfg_scale != 1.0:  # unguided records stay as they were
        rec["cfg_scale"] = o.cfg_scale
    return rec


def write_outcome(o: Outcome, results_dir: Path, model_uri: str, wav_dir: str = "wavs") -> dict:
    """Write the wav of ``o`` (to ``request.output`` or ``results_dir/wavs/<id>.wav``); return its record."""
    from uniaudio.audio import write_audio

    if o.wav is not None:
        path = Path(o.request.output) if o.request.output else results_dir / wav_dir / f"{o.request.id}.wav"
        write_audio(path, o.wav)
        return result_record(o, _rel(path, results_dir), model_uri)
    return result_record(o, o.text if o.text is not None else o.label, model_uri)


def guidance_warnings(cfg: GenerateConfig, lineage: dict[str, Any]) -> list[str]:
    """Guided tasks whose conditions the model never learned to do without (no condition dropout).

    Guidance mixes in the model's prediction WITHOUT the condition; a model trained without
    ``loader.cond_dropout`` never saw such prefixes, so the mix is extrapolation from noise. Only a
    warning: a model trained before the option existed has no record of it either way.
    """
    out = []
    trained = lineage.get("cond_dropout_segments") if float(lineage.get("cond_dropout") or 0) > 0 else {}
    for task, segs in sorted(cfg.cfg_segments.items()):
        if not segs or cfg.cfg_scale_of(task) == 1.0:
            continue
        missing = [s for s in segs if s not in (trained or {}).get(task, [])]
        if missing:
            how = ("its lineage records no condition dropout" if "cond_dropout" in lineage
                   else "its lineage does not say whether it was trained with condition dropout")
            out.append(f"cfg_scale {cfg.cfg_scale_of(task):g} for {task}: the model was not trained with "
                       f"{'/'.join(missing)} dropped ({how}); train with --set loader.cond_dropout=0.1 for guidance")
    return out
