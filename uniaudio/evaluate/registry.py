"""Which metric families apply to which task (the paper's §7.2 protocol, with offline evaluators).

=============  =====================================================================================
task           families (metrics)
=============  =====================================================================================
tts            intelligibility (wer, cer), speaker (sim_prompt, sim_ref), mcd
plain_tts      intelligibility, mcd
vc             intelligibility, speaker, mcd
svs            speaker, mcd (the paper only has MOS/SMOS; singing ASR is not meaningful)
se             signal (pesq, stoi, si_snr), dnsmos (ovrl, sig, bak, p808), mcd
tse            signal, dnsmos, speaker (vs the enrolment and the reference), mcd
dereverb       signal, dnsmos, mcd
speech_edit    intelligibility, mcd
instruct_tts   intelligibility, mcd (style accuracy needs a style classifier: none ships offline)
text_to_sound  frechet (fd)
text_to_music  frechet
audio_edit     frechet
asr            asr_text (wer, cer of the model's text)
sv             sv (accuracy)
=============  =====================================================================================

>>> [m.name for m in metrics_for("se")][:3]
['pesq', 'stoi', 'si_snr']
>>> check_metric_names(["wer", "fd"])
['wer', 'fd']
"""

from __future__ import annotations

from uniaudio.errors import UserFacingError
from uniaudio.evaluate.families import FAMILIES, Family, MetricSpec
from uniaudio.tasks import task_view

# task -> its metric families: each task's ``evaluate:`` declaration.
TASK_FAMILIES = task_view(lambda t: t.evaluate)


def families_for(task: str) -> tuple[Family, ...]:
    return tuple(FAMILIES[f] for f in TASK_FAMILIES[task])


def metrics_for(task: str) -> list[MetricSpec]:
    """The metrics of ``task`` in table order."""
    return [m for fam in families_for(task) for m in fam.metrics]


def all_metric_names() -> list[str]:
    seen: list[str] = []
    for fam in FAMILIES.values():
        seen += [m.name for m in fam.metrics if m.name not in seen]
    return seen


def metric_spec(task: str, name: str) -> MetricSpec | None:
    return next((m for m in metrics_for(task) if m.name == name), None)


def check_metric_names(names: list[str] | None) -> list[str] | None:
    """Validate a ``--metrics`` selection (None = all); unknown names are a UserFacingError."""
    if names is None:
        return None
    known = all_metric_names()
    bad = [n for n in names if n not in known]
    if bad:
        raise UserFacingError(f"unknown metric(s) {', '.join(bad)}; known metrics: {', '.join(known)}")
    return list(names)


def format_registry() -> str:
    """The task -> metrics mapping as text (``uniaudio evaluate --list``)."""
    width = max(len(t) for t in TASK_FAMILIES)
    lines = []
    for task, fams in TASK_FAMILIES.items():
        names = ", ".join(m.name for m in metrics_for(task))
        lines.append(f"{task:<{width}}  {names}    [{', '.join(fams)}]")
    return "\n".join(lines)
