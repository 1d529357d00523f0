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

from uniaudio.tasks import TASKS

# Token-store modality -> the manifest field it is computed from ("audio" = the row's own audio).
MODALITY_INPUT: dict[str, tuple[str, ...]] = {
    "phones": ("text",),
    "text_ids": ("text",),
    "semantic": ("audio",),
    "caption_emb": ("caption",),
    "instruction_emb": ("instruction",),
    "singing": ("lyrics", "notes_uri"),  # -> sing_phone + sing_midi on the 50 Hz grid
}

# Task -> (modalities it needs, manifest fields it needs besides those the modalities need).
# "speaker" is needed for the 3-s prompt / enrolment of another utterance of the same speaker;
# "source" / "enrolment" are paired audio (noisy / mixed / reverberant / pre-edit input; TSE's
# reference utterance). "a|b" means either field will do.
TASK_NEEDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "tts": (("phones",), ("speaker",)),
    "plain_tts": (("phones",), ()),
    "vc": (("semantic",), ("speaker",)),
    "svs": (("singing",), ("speaker",)),
    "se": ((), ("source",)),
    "tse": ((), ("source", "enrolment|speaker")),
    "text_to_sound": (("caption_emb",), ()),
    "text_to_music": (("caption_emb",), ()),
    "speech_edit": (("phones",), ()),
    "audio_edit": (("instruction_emb",), ("source",)),
    "instruct_tts": (("phones", "instruction_emb"), ()),
    "dereverb": ((), ("source",)),
    "asr": (("text_ids",), ()),
    "sv": ((), ("speaker",)),
}

assert set(TASK_NEEDS) == set(TASKS), "every registered task needs an entry in TASK_NEEDS"


def check_tasks(tasks: Iterable[str]) -> None:
    unknown = [t for t in tasks if t not in TASK_NEEDS]
    if unknown:
        raise ValueError(f"unknown task(s) {', '.join(unknown)}; known: {', '.join(TASK_NEEDS)}")


def modalities_for(tasks: Iterable[str]) -> set[str]:
    """Union of the modalities the given tasks need."""
    out: set[str] = set()
    for t in tasks:
        out.update(TASK_NEEDS[t][0])
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

