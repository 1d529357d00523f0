"""Token-store rows + a :class:`~pipelines.examples.choices.Choice` -> the segments of one example.

The segment names are the task templates' (:mod:`uniaudio.tasks`); the frame layout itself comes from
:func:`uniaudio.sequence.build_sequence`, the one source of truth. Inputs are never modified in place
(speech edit masks a copy, via :func:`uniaudio.sequence.mask_span`).

===============  ===============================================================================
task             segments
===============  ===============================================================================
tts              phone, prompt (3 s of another utterance of the speaker), target
plain_tts        phone, target
vc               semantic (of the target itself: self-reconstruction), prompt, target
svs              sing_phone, sing_midi, prompt, target
se / dereverb    source (the paired noisy / reverberant codes), target
tse              source (mixture codes), enrolment (3 s of the paired enrolment, else a prompt), target
text_to_sound    caption (float16 embedding), target          (text_to_music alike)
speech_edit      phone, source (the target's codes with a 1-2 word span masked), target
audio_edit       instruction (embedding), source (the audio before the edit), target
instruct_tts     phone, instruction (embedding), target
asr              source (the utterance's codes), target (UTF-8 text ids)
sv               source (3 s of the utterance), prompt (3 s of the same / another speaker), target (label)
===============  ===============================================================================
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from pipelines.examples.choices import Choice
from pipelines.schema import unpack_f16
from uniaudio.sequence import mask_span


class MissingInput(ValueError):
    """A column the task needs is empty in the token row (``reason`` names it)."""

    def __init__(self, column: str):
        self.reason = f"missing_{column}"
        super().__init__(self.reason)


def codes(row: dict[str, Any], n_q: int, prefix: str = "") -> np.ndarray:
    """The codes of ``row`` (``prefix`` = "" own audio, "source_", "enrolment_") as ``[F, n_q]``."""
    cols = [row.get(f"{prefix}codes_{k}") for k in range(n_q)]
    if any(c is None for c in cols):
        raise MissingInput(f"{prefix}codes")
    return np.stack([np.asarray(c, dtype=np.int64) for c in cols], axis=1)


def ids(row: dict[str, Any], column: str) -> np.ndarray:
    value = row.get(column)
    if value is None or len(value) == 0:
        raise MissingInput(column)
    return np.asarray(value, dtype=np.int64)


def embedding(row: dict[str, Any], field: str) -> np.ndarray:
    emb = unpack_f16(row.get(f"{field}_emb"), row.get(f"{field}_emb_dim"))
    if emb.shape[0] == 0:
        raise MissingInput(f"{field}_emb")
    return emb


def _prompt(c: Choice, rows: dict[str, dict[str, Any]], n_q: int) -> np.ndarray:
    src = codes(rows[c.prompt_utt], n_q, c.prompt_role)
    return src[c.prompt_start : c.prompt_start + c.prompt_len]


Builder = Callable[[Choice, dict, dict, int], dict[str, Any]]


def _tts(c, row, rows, n_q):
    return {"phone": ids(row, "phones"), "prompt": _prompt(c, rows, n_q), "target": codes(row, n_q)}


def _plain_tts(c, row, rows, n_q):
    return {"phone": ids(row, "phones"), "target": codes(row, n_q)}


def _vc(c, row, rows, n_q):
    return {"semantic": ids(row, "semantic"), "prompt": _prompt(c, rows, n_q), "target": codes(row, n_q)}


def _svs(c, row, rows, n_q):
    return {"sing_phone": ids(row, "sing_phone"), "sing_midi": ids(row, "sing_midi"),
            "prompt": _prompt(c, rows, n_q), "target": codes(row, n_q)}


def _paired(c, row, rows, n_q):
    return {"source": codes(row, n_q, "source_"), "target": codes(row, n_q)}


def _tse(c, row, rows, n_q):
    return {"source": codes(row, n_q, "source_"), "enrolment": _prompt(c, rows, n_q), "target": codes(row, n_q)}


def _caption(c, row, rows, n_q):
    return {"caption": embedding(row, "caption"), "target": codes(row, n_q)}


def _speech_edit(c, row, rows, n_q):
    target = codes(row, n_q)
    return {"phone": ids(row, "phones"), "source": mask_span(target, *c.span), "target": target}


def _audio_edit(c, row, rows, n_q):
    return {"instruction": embedding(row, "instruction"), "source": codes(row, n_q, "source_"),
            "target": codes(row, n_q)}


def _instruct_tts(c, row, rows, n_q):
    return {"phone": ids(row, "phones"), "instruction": embedding(row, "instruction"), "target": codes(row, n_q)}


def _asr(c, row, rows, n_q):
    return {"source": codes(row, n_q), "target": ids(row, "text_ids")}


def _sv(c, row, rows, n_q):
    own = codes(row, n_q)
    return {"source": own[c.crop_start : c.crop_start + c.crop_len], "prompt": _prompt(c, rows, n_q),
            "target": np.array([c.label], dtype=np.int64)}


BUILDERS: dict[str, Builder] = {
    "tts": _tts, "plain_tts": _plain_tts, "vc": _vc, "svs": _svs, "se": _paired, "dereverb": _paired,
    "tse": _tse, "text_to_sound": _caption, "text_to_music": _caption, "speech_edit": _speech_edit,
    "audio_edit": _audio_edit, "instruct_tts": _instruct_tts, "asr": _asr, "sv": _sv,
}


def segments_for(c: Choice, rows: dict[str, dict[str, Any]], n_q: int) -> dict[str, Any]:
    """Segments of the example ``c`` (raises :class:`MissingInput` when a needed column is empty)."""
    return BUILDERS[c.task](c, rows[c.utt_id], rows, n_q)
