"""Translate a published UniAudio ``token_list`` into this project's vocabulary, entry by entry, by name.

The published vocabulary is whatever its tokenizer flags produced (ids appended in flag order, see
../shared/UNIAUDIO.md §2.1); the explicit ``token_list`` in its ``config.yaml`` is the only reliable
statement of which id means what, so the translation reads names, never positions:

* specials and task tokens through :data:`SPECIALS` / :data:`TASKS` (published name -> name here);
* ``<audio_N>``: codebook ``N // 1024``, code ``N % 1024``; ``N == n_q * 1024`` is the codec mask id;
* ``<phone_i>``: the local id here of published phone ``i`` of an imported phone table
  (:mod:`uniaudio.tokenizers.phone_table`), without one phone ``i``; ``<semantic_i>``: unit ``i``, ``<sing_phone_i>`` /
  ``<sing_midi_i>``: the singing ranges, ``<sv_bool_i>``: label ``i``;
* everything else (``<unused_special_token>``, the dead image/AT/TTA markers, BPE text pieces whose ids
  mean nothing to the byte-level text range here) has no counterpart and is reported, not guessed.

>>> from uniaudio.vocab import load_vocab
>>> m = translate(["<pad>", "<start>", "<audio_1025>", "<tts_task>", "<unused_special_token>"], load_vocab(), n_q=3)
>>> m.id_map, [name for _, name in m.unmapped]
({0: 0, 1: 1, 2: 1281, 3: 64}, ['<unused_special_token>'])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from uniaudio.errors import UserFacingError

#: published special name -> special name here (the task tokens are in :data:`TASKS`).
SPECIALS = {
    "<pad>": "<pad>", "<continuous_token>": "<continuous>", "<start>": "<start>", "<end>": "<end>",
    "<mega_global>": "<global_sos>", "<mega_local>": "<local_sos>",
    "<phone_start>": "<phone_start>", "<phone_end>": "<phone_end>",
    "<text_start>": "<text_start>", "<text_end>": "<text_end>",
    "<audio_start>": "<audio_start>", "<audio_end>": "<audio_end>",
    "<audio_prompt_start>": "<audio_prompt_start>", "<audio_prompt_end>": "<audio_prompt_end>",
    "<semantic_start>": "<semantic_start>", "<semantic_end>": "<semantic_end>",
    # the published T5 segment is this project's continuous text-embedding segment
    "<text_t5_start>": "<text_emb_start>", "<text_t5_end>": "<text_emb_end>",
    "<sing_phone_start>": "<sing_phone_start>", "<sing_phone_end>": "<sing_phone_end>",
    "<sing_midi_start>": "<sing_midi_start>", "<sing_midi_end>": "<sing_midi_end>",
    "<sv_bool_start>": "<label_start>", "<sv_bool_end>": "<label_end>",
}
#: published task token -> task name here.
TASKS = {
    "<tts_task>": "tts", "<plain_tts_task>": "plain_tts", "<VC_task>": "vc", "<SE_task>": "se",
    "<Spex_task>": "tse", "<sing_task>": "svs", "<TSS_task>": "text_to_sound", "<TTM_task>": "text_to_music",
    "<Audit_task>": "audio_edit", "<InstructTTS_task>": "instruct_tts", "<Speech_RIR_task>": "dereverb",
    "<speech_edit_task>": "speech_edit", "<asr_task>": "asr", "<SV_task>": "sv",
}
#: ``<name_i>`` families -> the range here their ``i`` indexes.
RANGES = {"phone": "phone", "semantic": "semantic", "sing_phone": "sing_phone", "sing_midi": "sing_midi",
          "sv_bool": "label"}
_INDEXED = re.compile(r"^<([A-Za-z_]+?)_(\d+)>$")


@dataclass
class TokenMap:
    """``id_map``: published id -> id here; ``unmapped``: (published id, name) without a counterpart."""

    id_map: dict[int, int]
    unmapped: list[tuple[int, str]]
    names: list[str] = field(repr=False, default_factory=list)

    def untrained(self, vocab_size: int) -> list[int]:
        """Ids here that no published id maps to (their rows keep this project's initialisation)."""
        hit = set(self.id_map.values())
        return [i for i in range(vocab_size) if i not in hit]


def _target(name: str, vocab, n_q: int, phone_ids: list[int] | None) -> int | None:
    if name in SPECIALS:
        return vocab.special(SPECIALS[name])
    if name in TASKS:
        return vocab.task_id(TASKS[name]) if TASKS[name] in vocab.tasks else None
    m = _INDEXED.match(name)
    if m is None:
        return None
    family, i = m.group(1), int(m.group(2))
    if family == "audio":
        if i == n_q * vocab.codebook_size:
            return vocab.mask
        k, c = divmod(i, vocab.codebook_size)
        return vocab.codebook_range(k).start + c if k < vocab.max_codebooks else None
    if family == "phone" and phone_ids is not None:
        return vocab.range("phone").start + phone_ids[i] if i < len(phone_ids) else None
    if family in RANGES:
        r = vocab.range(RANGES[family])
        return r.start + i if i < r.size else None
    return None


def translate(token_list: list[str], vocab, n_q: int, phone_ids: list[int] | None = None) -> TokenMap:
    """The translation of every published id (see the module doc); two names meeting on one id here,
    or a name listed twice, is an error (the rows would overwrite each other). ``phone_ids``: local
    phone id here of each published phone (an imported phone table), else ``<phone_i>`` -> phone ``i``."""
    if phone_ids is not None:
        n_phones = sum(1 for n in token_list if isinstance(n, str) and n.startswith("<phone_") and n[7:-1].isdigit())
        if n_phones != len(phone_ids):
            raise UserFacingError(f"the token_list has {n_phones} phones but the imported phone table has "
                                  f"{len(phone_ids)}: it is not the table this LM was trained with")
    id_map: dict[int, int] = {}
    unmapped: list[tuple[int, str]] = []
    seen: dict[int, int] = {}
    for pid, name in enumerate(token_list):
        if not isinstance(name, str):
            raise UserFacingError(f"token_list entry {pid} is {type(name).__name__}, not a token name")
        here = _target(name, vocab, n_q, phone_ids)
        if here is None:
            unmapped.append((pid, name))
            continue
        if here in seen:
            raise UserFacingError(f"token_list entries {seen[here]} ({token_list[seen[here]]}) and {pid} ({name}) "
                                  f"both translate to id {here} ({vocab.token_name(here)})")
        seen[here] = pid
        id_map[pid] = here
    return TokenMap(id_map, unmapped, list(token_list))
