"""Metric families: which metrics each computes, what each needs from an item, and the glue code.

A family computes several metrics from one expensive step (one transcription -> WER and CER; one
PESQ/STOI/SI-SNR pass over the aligned pair). Each metric declares the item fields it needs besides
the output (``"prompt|enrolment"`` = either one); an item missing them has the metric *skipped*. A
family's ``compute(ctx, names)`` returns ``{metric: value}`` where a value is a float, a
:class:`~uniaudio.evaluate.text.Ratio` (pooled by the table) or an ``Exception`` (that metric failed
for this item, the others stand). Anything the family raises fails all its requested metrics for the
item. ``ctx.details`` collects per-item extras (the ASR hypothesis) for ``items.jsonl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover
    from uniaudio.evaluate.scoring import ItemContext


@dataclass(frozen=True)
class MetricSpec:
    name: str
    needs: tuple[str, ...] = ()
    higher_is_better: bool = True
    unit: str = ""
    description: str = ""


@dataclass(frozen=True)
class Family:
    name: str
    metrics: tuple[MetricSpec, ...]
    compute: Callable[["ItemContext", tuple[str, ...]], dict[str, Any]] | None
    description: str = ""
    #: Set-level families (Fréchet distance) are computed by the runner over whole sets.
    set_level: bool = False

    def metric(self, name: str) -> MetricSpec:
        return next(m for m in self.metrics if m.name == name)


def _intelligibility(ctx: "ItemContext", names: tuple[str, ...]) -> dict[str, Any]:
    from uniaudio.evaluate.asr import transcribe
    from uniaudio.evaluate.text import cer, wer

    hyp = transcribe(ctx.audio("output"))
    ctx.details["hypothesis"] = hyp
    return {"wer": wer(hyp, ctx.item.text), "cer": cer(hyp, ctx.item.text)}


def _asr_text(ctx: "ItemContext", names: tuple[str, ...]) -> dict[str, Any]:
    from uniaudio.evaluate.text import cer, wer

    hyp = str(ctx.item.output)
    return {"wer": wer(hyp, ctx.item.text), "cer": cer(hyp, ctx.item.text)}


def _speaker(ctx: "ItemContext", names: tuple[str, ...]) -> dict[str, Any]:
    from uniaudio.evaluate.speaker import cosine

    out = ctx.speaker_embedding("output")
    refs = {"sim_prompt": "prompt|enrolment", "sim_ref": "reference"}
    result: dict[str, Any] = {}
    for name in names:
        try:
            result[name] = cosine(out, ctx.speaker_embedding(refs[name]))
        except Exception as err:  # noqa: BLE001 - a bad prompt file fails this metric only
            result[name] = err
    return result


def _signal(ctx: "ItemContext", names: tuple[str, ...]) -> dict[str, Any]:
    from uniaudio.evaluate import signal_metrics as sm

    est, ref = ctx.audio("output"), ctx.audio("reference")
    fns = {"pesq": sm.pesq_wb, "stoi": sm.stoi, "si_snr": sm.si_snr}
    result: dict[str, Any] = {}
    for name in names:
        try:
            result[name] = fns[name](est, ref)
        except Exception as err:  # noqa: BLE001 - PESQ may find no utterance while STOI still works
            result[name] = err
    return result


def _dnsmos(ctx: "ItemContext", names: tuple[str, ...]) -> dict[str, Any]:
    from uniaudio.evaluate.dnsmos import dnsmos

    return dnsmos(ctx.audio("output"))


def _mcd(ctx: "ItemContext", names: tuple[str, ...]) -> dict[str, Any]:
    from uniaudio.evaluate.mcd import mcd

    return {"mcd": mcd(ctx.audio("output"), ctx.audio("reference"))}


def _sv(ctx: "ItemContext", names: tuple[str, ...]) -> dict[str, Any]:
    return {"accuracy": float(int(ctx.item.output) == int(ctx.item.label))}


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("intelligibility", (
        MetricSpec("wer", ("text",), False, "", "word error rate of the packaged ASR (Whisper base) vs text"),
        MetricSpec("cer", ("text",), False, "", "character error rate of the packaged ASR vs text"),
    ), _intelligibility, "ASR the generated speech and compare with the transcript"),
    Family("asr_text", (
        MetricSpec("wer", ("text",), False, "", "word error rate of the model's transcript"),
        MetricSpec("cer", ("text",), False, "", "character error rate of the model's transcript"),
    ), _asr_text, "the model's own recognised text vs the transcript"),
    Family("speaker", (
        MetricSpec("sim_prompt", ("prompt|enrolment",), True, "", "speaker cosine vs the prompt / enrolment (Sim-O)"),
        MetricSpec("sim_ref", ("reference",), True, "", "speaker cosine vs the ground-truth target (Sim-R)"),
    ), _speaker, "Resemblyzer speaker-embedding cosine"),
    Family("signal", (
        MetricSpec("pesq", ("reference",), True, "MOS-LQO", "wide-band PESQ"),
        MetricSpec("stoi", ("reference",), True, "", "short-time objective intelligibility"),
        MetricSpec("si_snr", ("reference",), True, "dB", "scale-invariant SNR"),
    ), _signal, "reference-based enhancement metrics"),
    Family("dnsmos", (
        MetricSpec("dnsmos_ovrl", (), True, "MOS", "DNSMOS P.835 overall"),
        MetricSpec("dnsmos_sig", (), True, "MOS", "DNSMOS P.835 speech signal"),
        MetricSpec("dnsmos_bak", (), True, "MOS", "DNSMOS P.835 background"),
        MetricSpec("dnsmos_p808", (), True, "MOS", "DNSMOS P.808 overall"),
    ), _dnsmos, "non-intrusive quality (no reference)"),
    Family("mcd", (
        MetricSpec("mcd", ("reference",), False, "dB", "DTW-aligned mel-cepstral distance"),
    ), _mcd, "spectral-envelope distance to the reference"),
    Family("sv", (
        MetricSpec("accuracy", ("label",), True, "", "predicted same/different label == truth"),
    ), _sv, "speaker-verification decision accuracy"),
    Family("frechet", (
        MetricSpec("fd", ("reference",), False, "", "Fréchet distance (Whisper-base embeddings), generated vs reference set"),
    ), None, "set-level distribution distance", set_level=True),
)}
