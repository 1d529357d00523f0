"""Which token-store inputs each task needs, and therefore which tokenizers run for a row.

A dataset spec lists the tasks a dataset feeds; a row gets exactly the modalities those tasks use
(phones for TTS-like tasks, semantic units for VC, caption embeddings for text-to-sound/music, ...).
The codec always runs on the row's own audio (every task's target or source is audio), and on the
``paired["source"]`` audio whenever the row has one (SE, TSE, dereverb, audio edit inputs).

A row is kept when at least one of its dataset's tasks can be served by the fields it has; a missing
optional field only drops the tasks that need it (the example builder checks per task). A row that
can serve none of its tasks is quarantined with reason ``no_usable_task``.

>>> sorted(modalities_for(["tts", "asr"]))
['phones', 'text_ids']
>>> missing_inputs("text_to_sound", {"caption": None})
['caption']
"""

from __future__ import annotations

from typing import Iterable, Mapping

from uniaudio.tasks import TASKS, get_task, task_view
from uniaudio.tasks.spec import TOKEN_MODALITIES

# Token-store modality -> the manifest field it is computed from ("audio" = the row's own audio).
MODALITY_INPUT: dict[str, tuple[str, ...]] = TOKEN_MODALITIES

# Task -> (modalities it needs, manifest fields it needs besides those the modalities need), from each
# task's ``tokenize:`` declaration. "speaker" is needed for the 3-s prompt / enrolment of another
# utterance of the same speaker; "source" / "enrolment" are paired audio. "a|b": either field will do.
TASK_NEEDS = task_view(lambda t: (t.token_modalities, t.token_fields))


def check_tasks(tasks: Iterable[str]) -> None:
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"unknown task(s) {', '.join(unknown)}; known: {', '.join(TASKS)}")


def modalities_for(tasks: Iterable[str]) -> set[str]:
    """Union of the modalities the given tasks need."""
    out: set[str] = set()
    for t in tasks:
        out.update(get_task(t).token_modalities)
    return out


def _present(fields: Mapping[str, object], name: str) -> bool:
    value = fields.get(name)
    return value is not None and value != "" and value != {}


def missing_inputs(task: str, fields: Mapping[str, object]) -> list[str]:
    """Manifest fields ``task`` needs that ``fields`` lacks (``source`` = paired source audio)."""
    mods, extra = TASK_NEEDS[task]
    need: list[str] = []
    for m in mods:
        need += [f for f in MODALITY_INPUT[m] if f != "audio"]
    need += list(extra)
    return [f for f in dict.fromkeys(need) if not any(_present(fields, alt) for alt in f.split("|"))]


def usable_tasks(tasks: Iterable[str], fields: Mapping[str, object]) -> list[str]:
    """The tasks whose inputs are all present in ``fields``."""
    return [t for t in tasks if not missing_inputs(t, fields)]

