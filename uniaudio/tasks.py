"""The task registry: every task as a template of condition segments and one target segment.

Templates are data, not code: the sequence builder (:mod:`uniaudio.sequence`) turns any template plus
an example's segments into the frame sequence, so adding a task is adding a row here (and an id in a
new vocabulary version). Segment names are the example-store column names; modalities are the
vocabulary's (:data:`uniaudio.vocab.MODALITIES`).

>>> t = get_task("tts")
>>> [s.name for s in t.conditions], t.target.modality
(['phone', 'prompt'], 'audio')
>>> len(TASKS)
14
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from uniaudio.vocab import (
    AUDIO,
    AUDIO_PROMPT,
    LABEL,
    PHONE,
    SEMANTIC,
    SING_MIDI,
    SING_PHONE,
    TEXT,
    TEXT_EMB,
)

Stage = Literal["base", "finetune", "extra"]


@dataclass(frozen=True)
class Segment:
    """One segment of a sequence: the example column it comes from and its modality."""

    name: str
    modality: str
    description: str = ""


@dataclass(frozen=True)
class TaskTemplate:
    name: str
    paper_name: str
    conditions: tuple[Segment, ...]
    target: Segment
    # base: the paper's 7 jointly trained tasks; finetune: the 4 added by fine-tuning; extra: ours.
    stage: Stage
    # Condition whose length bounds the generated length (None: free, bounded by the max length).
    length_from: str | None
    description: str

    @property
    def segments(self) -> tuple[Segment, ...]:
        return (*self.conditions, self.target)

    def condition(self, name: str) -> Segment:
        for s in self.conditions:
            if s.name == name:
                return s
        raise KeyError(f"task {self.name} has no condition {name!r}")


def _seg(name: str, modality: str, description: str = "") -> Segment:
    return Segment(name, modality, description)


_TARGET_AUDIO = _seg("target", AUDIO, "codec tokens of the audio to generate")
_PROMPT = _seg("prompt", AUDIO_PROMPT, "3 s of another utterance of the target speaker")

_TEMPLATES = [
    TaskTemplate("tts", "Zero-shot TTS", (_seg("phone", PHONE), _PROMPT), _TARGET_AUDIO,
                 "base", "phone", "phones + a 3 s voice prompt -> speech in that voice"),
    TaskTemplate("plain_tts", "TTS without prompt", (_seg("phone", PHONE),), _TARGET_AUDIO,
                 "extra", "phone", "phones -> speech (single or implicit speaker)"),
    TaskTemplate("vc", "Voice conversion", (_seg("semantic", SEMANTIC, "50 Hz units of the source speech"), _PROMPT),
                 _TARGET_AUDIO, "base", "semantic", "source content units + target voice prompt -> converted speech"),
    TaskTemplate("svs", "Singing voice synthesis",
                 (_seg("sing_phone", SING_PHONE, "lyric phones on the 50 Hz grid"),
                  _seg("sing_midi", SING_MIDI, "MIDI notes on the 50 Hz grid"), _PROMPT),
                 _TARGET_AUDIO, "base", "sing_midi", "lyrics + notes + singer prompt -> singing"),
    TaskTemplate("se", "Speech enhancement", (_seg("source", AUDIO, "noisy speech"),), _TARGET_AUDIO,
                 "base", "source", "noisy speech -> clean speech"),
    TaskTemplate("tse", "Target speaker extraction",
                 (_seg("source", AUDIO, "mixture of speakers"), _seg("enrolment", AUDIO_PROMPT, "3 s of the target speaker")),
                 _TARGET_AUDIO, "base", "source", "mixture + enrolment -> the target speaker's speech"),
    TaskTemplate("text_to_sound", "Text-to-sound", (_seg("caption", TEXT_EMB, "caption embedding"),), _TARGET_AUDIO,
                 "base", None, "caption -> sound"),
    TaskTemplate("text_to_music", "Text-to-music", (_seg("caption", TEXT_EMB, "caption embedding"),), _TARGET_AUDIO,
                 "base", None, "caption -> music"),
    TaskTemplate("speech_edit", "Speech edit",
                 (_seg("phone", PHONE, "phones of the edited sentence"),
                  _seg("source", AUDIO, "the speech with the edited span masked")),
                 _TARGET_AUDIO, "finetune", "source", "phones + partly masked speech -> the speech with the span filled"),
    TaskTemplate("audio_edit", "Audio edit",
                 (_seg("instruction", TEXT_EMB, "edit instruction embedding"), _seg("source", AUDIO, "audio to edit")),
                 _TARGET_AUDIO, "finetune", "source", "instruction + audio -> edited audio (add / drop an event)"),
    TaskTemplate("instruct_tts", "Instructed TTS",
                 (_seg("phone", PHONE), _seg("instruction", TEXT_EMB, "style instruction embedding")),
                 _TARGET_AUDIO, "finetune", "phone", "phones + style instruction -> speech in that style"),
    TaskTemplate("dereverb", "Speech dereverberation", (_seg("source", AUDIO, "reverberant speech"),), _TARGET_AUDIO,
                 "finetune", "source", "reverberant speech -> dry speech"),
    TaskTemplate("asr", "ASR", (_seg("source", AUDIO, "speech"),), _seg("target", TEXT, "transcript text ids"),
                 "extra", None, "speech -> transcript"),
    TaskTemplate("sv", "Speaker verification", (_seg("source", AUDIO, "3 s of speech"), _PROMPT),
                 _seg("target", LABEL, "1 = same speaker, 0 = different"), "extra", None,
                 "two voices -> same speaker or not"),
]

TASKS: dict[str, TaskTemplate] = {t.name: t for t in _TEMPLATES}
PAPER_TASKS = tuple(t.name for t in _TEMPLATES if t.stage in ("base", "finetune"))


def get_task(name: str) -> TaskTemplate:
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None


def format_task_table() -> str:
    """The registry as a text table (``uniaudio tasks``)."""
    rows = [("task", "paper name", "stage", "conditions -> target")]
    for t in TASKS.values():
        conds = ", ".join(f"{s.name}:{s.modality}" for s in t.conditions)
        rows.append((t.name, t.paper_name, t.stage, f"{conds} -> {t.target.name}:{t.target.modality}"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in rows]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)
