"""Task files: parse and validate the YAML declarations of tasks (built-in and a user's ``--tasks-file``).

One task is one mapping under ``tasks:`` (see ``builtin.yaml`` and docs/NEW_TASK.md). Besides its
segments, each segment names *rules* (small call-like strings) that every consumer interprets:

=============  ======================================================================================
key            rules
=============  ======================================================================================
``example``    ``codes`` (the row's own codec codes), ``codes(source|enrolment)`` (paired codes),
               ``prompt`` (the chosen 3-s prompt / enrolment window), ``ids(COLUMN)`` (an id column),
               ``embedding(FIELD)`` (a float16 embedding), ``masked_codes`` (own codes, chosen span
               masked), ``crop`` (a 3-s window of the own codes), ``label`` (the chosen SV label)
``request``    ``phones(text)``, ``codes(INPUT)``, ``prompt_codes(INPUT)`` (first 3 s),
               ``masked_codes(INPUT, edit_span)``, ``semantic(INPUT)``, ``embedding(INPUT)``,
               ``singing(lyrics, notes)``; the arguments are request inputs
``eval``       (per request input) ``row(FIELD)``, ``paired(ROLE)``, ``audio`` (the row's audio),
               ``other_utt(same_speaker|other_speaker|same_speaker_or_any)``, ``edit_span``, ``const(V)``
=============  ======================================================================================

``pairing`` (how the example builder pairs rows): ``none``, ``speaker_prompt``, ``enrolment``,
``sv_trial``, ``edit_span``. Every problem raises :class:`TaskFileError` naming file and field.

>>> t = parse_rule("masked_codes(source, edit_span)")
>>> t
('masked_codes', ('source', 'edit_span'))
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from uniaudio.errors import UserFacingError

Stage = Literal["base", "finetune", "extra"]
STAGES = ("base", "finetune", "extra")
PAIRINGS = ("none", "speaker_prompt", "enrolment", "sv_trial", "edit_span")
# Token-store modality -> the manifest fields it is computed from ("audio" = the row's own audio).
TOKEN_MODALITIES: dict[str, tuple[str, ...]] = {
    "phones": ("text",), "text_ids": ("text",), "semantic": ("audio",), "caption_emb": ("caption",),
    "instruction_emb": ("instruction",), "singing": ("lyrics", "notes_uri"),
}
MANIFEST_FIELDS = ("speaker", "source", "enrolment", "text", "caption", "instruction", "lyrics", "notes_uri")
REQUEST_INPUTS = ("text", "caption", "instruction", "lyrics", "prompt", "source", "enrolment", "notes",
                  "edit_span", "label")
# rule name -> number of arguments (None: 0 or 1)
EXAMPLE_RULES = {"codes": None, "prompt": 0, "ids": 1, "embedding": 1, "masked_codes": 0, "crop": 0, "label": 0}
REQUEST_RULES = {"phones": 1, "codes": 1, "prompt_codes": 1, "masked_codes": 2, "semantic": 1, "embedding": 1,
                 "singing": 2}
EVAL_RULES = {"row": 1, "paired": 1, "audio": 0, "other_utt": 1, "edit_span": 0, "const": 1}
OTHER_UTT = ("same_speaker", "other_speaker", "same_speaker_or_any")
_RULE = re.compile(r"^\s*([a-z_]+)\s*(?:\(([^()]*)\))?\s*$")


class TaskFileError(UserFacingError):
    """A task file that cannot be used; the message names the file and the field."""


def parse_rule(text: Any) -> tuple[str, tuple[str, ...]]:
    m = _RULE.match(str(text))
    if m is None:
        raise ValueError(f"{text!r} is not a rule like name or name(arg, ...)")
    args = tuple(a.strip() for a in (m.group(2) or "").split(",") if a.strip())
    return m.group(1), args


@dataclass(frozen=True)
class Segment:
    """One segment of a sequence: the example column it comes from, its modality and its rules."""

    name: str
    modality: str
    description: str = ""
    example: str = ""
    request: str | None = None


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
    pairing: str = "none"
    token_modalities: tuple[str, ...] = ()
    token_fields: tuple[str, ...] = ()
    optional_inputs: tuple[str, ...] = ()
    eval: dict[str, str] = field(default_factory=dict)
    evaluate: tuple[str, ...] = ()
    declared_in: str = ""  # FILE:LINE of the declaration

    @property
    def segments(self) -> tuple[Segment, ...]:
        return (*self.conditions, self.target)

    def condition(self, name: str) -> Segment:
        for s in self.conditions:
            if s.name == name:
                return s
        raise KeyError(f"task {self.name} has no condition {name!r}")

    @property
    def request_inputs(self) -> tuple[str, ...]:
        """The inputs a generation request must carry (the arguments of the conditions' request rules)."""
        out: list[str] = []
        for s in self.conditions:
            out += [a for a in parse_rule(s.request)[1] if a not in out] if s.request else []
        return tuple(out)

    @property
    def output_kind(self) -> str:
        return {"text": "text", "label": "label"}.get(self.target.modality, "audio")


def _line_marks(text: str) -> list[int]:
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return []
    for key, value in getattr(root, "value", []) if isinstance(root, yaml.MappingNode) else []:
        if key.value == "tasks" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def read_task_file(path: str | Path, modalities: tuple[str, ...], taken: set[str] = frozenset()
                   ) -> tuple[list[TaskTemplate], dict[str, Any]]:
    """Parse ``path`` -> (tasks, the raw document). ``modalities``: the known modality names (the
    file's own ``modalities:`` are added); ``taken``: task names already declared elsewhere."""
    p = Path(path)
    if not p.is_file():
        raise TaskFileError(f"tasks file {p} does not exist")
    text = p.read_text(encoding="utf-8")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise TaskFileError(f"{p}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tasks"), list):
        raise TaskFileError(f"{p}: tasks: expected a list of task mappings under the top-level key 'tasks'")
    extra_mods = doc.get("modalities") or []
    if not isinstance(extra_mods, list) or not all(isinstance(m, dict) and isinstance(m.get("name"), str)
                                                   for m in extra_mods):
        raise TaskFileError(f"{p}: modalities: expected a list of {{name: ..., range: ...}} mappings")
    known = tuple(modalities) + tuple(m["name"] for m in extra_mods)
    marks = _line_marks(text)
    tasks: list[TaskTemplate] = []
    seen = set(taken)
    for i, raw in enumerate(doc["tasks"]):
        where = f"{p}:{marks[i]}" if i < len(marks) else str(p)
        t = _task(raw, f"{p}: tasks[{i}]", known, where)
        if t.name in seen:
            raise TaskFileError(f"{p}: tasks[{i}].name: duplicate task name {t.name!r} (already declared)")
        seen.add(t.name)
        tasks.append(t)
    return tasks, doc


def _task(raw: Any, at: str, modalities: tuple[str, ...], where: str) -> TaskTemplate:
    def fail(key: str, msg: str):
        raise TaskFileError(f"{at}.{key}: {msg}")

    if not isinstance(raw, dict):
        raise TaskFileError(f"{at}: expected a mapping")
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        fail("name", f"expected a lower-case identifier, got {name!r}")
    at = f"{at} ({name})"
    allowed = {"name", "paper_name", "description", "stage", "length_from", "conditions", "target", "pairing",
               "tokenize", "optional_inputs", "eval", "evaluate"}
    for k in raw:
        if k not in allowed:
            fail(str(k), f"unknown key; known keys: {', '.join(sorted(allowed))}")
    conds_raw = raw.get("conditions")
    if not isinstance(conds_raw, list) or not conds_raw:
        fail("conditions", "expected a non-empty list of segments")
    if "target" not in raw or not isinstance(raw["target"], dict):
        fail("target", "missing target segment ({name: target, modality: audio, ...})")
    conds = tuple(_segment(s, f"conditions[{j}]", modalities, fail, target=False) for j, s in enumerate(conds_raw))
    target = _segment(raw["target"], "target", modalities, fail, target=True)
    names = [s.name for s in (*conds, target)]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        fail("conditions", f"duplicate segment name(s) {dup}")
    stage = raw.get("stage", "extra")
    if stage not in STAGES:
        fail("stage", f"{stage!r} is not one of {', '.join(STAGES)}")
    length_from = raw.get("length_from")
    if length_from is not None and length_from not in names[:-1]:
        fail("length_from", f"{length_from!r} is not a condition of the task ({', '.join(names[:-1])})")
    pairing = raw.get("pairing", "none")
    if pairing not in PAIRINGS:
        fail("pairing", f"{pairing!r} is not one of {', '.join(PAIRINGS)}")
    tok = raw.get("tokenize") or {}
    if not isinstance(tok, dict) or set(tok) - {"modalities", "fields"}:
        fail("tokenize", "expected {modalities: [...], fields: [...]}")
    tmods = tuple(tok.get("modalities") or ())
    for m in tmods:
        if m not in TOKEN_MODALITIES:
            fail("tokenize.modalities", f"unknown token modality {m!r}; known: {', '.join(TOKEN_MODALITIES)}")
    tfields = tuple(tok.get("fields") or ())
    for f in tfields:
        for alt in str(f).split("|"):
            if alt not in MANIFEST_FIELDS:
                fail("tokenize.fields", f"unknown manifest field {alt!r}; known: {', '.join(MANIFEST_FIELDS)}")
    optional = tuple(raw.get("optional_inputs") or ())
    for o in optional:
        if o not in REQUEST_INPUTS:
            fail("optional_inputs", f"unknown request input {o!r}; known: {', '.join(REQUEST_INPUTS)}")
    ev = raw.get("eval") or {}
    if not isinstance(ev, dict):
        fail("eval", "expected a mapping request input -> rule")
    used = {a for s in conds if s.request for a in parse_rule(s.request)[1]} | set(optional) | {"reference"}
    for key, rule in ev.items():
        if key not in used:
            fail(f"eval.{key}", f"request input {key!r} is used by no segment (segment request rules use: "
                                f"{', '.join(sorted(used - {'reference'}))})")
        _check_rule(rule, EVAL_RULES, f"eval.{key}", fail)
        if parse_rule(rule)[0] == "other_utt" and parse_rule(rule)[1][0] not in OTHER_UTT:
            fail(f"eval.{key}", f"other_utt takes one of {', '.join(OTHER_UTT)}")
    fams = tuple(raw.get("evaluate") or ())
    from uniaudio.evaluate.families import FAMILIES  # data only; lazy to keep this module import-light

    for f in fams:
        if f not in FAMILIES:
            fail("evaluate", f"unknown metric family {f!r}; known: {', '.join(FAMILIES)}")
    return TaskTemplate(name=name, paper_name=str(raw.get("paper_name") or name), conditions=conds, target=target,
                        stage=stage, length_from=length_from, description=str(raw.get("description") or ""),
                        pairing=pairing, token_modalities=tmods, token_fields=tfields, optional_inputs=optional,
                        eval={str(k): str(v) for k, v in ev.items()}, evaluate=fams, declared_in=where)


def _check_rule(rule: Any, table: dict[str, int | None], key: str, fail) -> None:
    try:
        fn, args = parse_rule(rule)
    except ValueError as err:
        fail(key, str(err))
    if fn not in table:
        fail(key, f"unknown rule {fn!r}; known: {', '.join(table)}")
    n = table[fn]
    if (n is None and len(args) > 1) or (n is not None and len(args) != n):
        fail(key, f"{fn} takes {'0 or 1' if n is None else n} argument(s), got {len(args)}")


def _segment(raw: Any, key: str, modalities: tuple[str, ...], fail, target: bool) -> Segment:
    if not isinstance(raw, dict):
        fail(key, "expected a mapping {name: ..., modality: ...}")
    for k in raw:
        if k not in ("name", "modality", "description", "example", "request"):
            fail(f"{key}.{k}", "unknown key; known: name, modality, description, example, request")
    if not isinstance(raw.get("name"), str) or not raw["name"]:
        fail(f"{key}.name", "missing segment name")
    if raw.get("modality") not in modalities:
        fail(f"{key}.modality", f"unknown modality {raw.get('modality')!r}; known: {', '.join(modalities)}")
    if not raw.get("example"):
        fail(f"{key}.example", "missing example rule (how the example builder makes this segment)")
    _check_rule(raw["example"], EXAMPLE_RULES, f"{key}.example", fail)
    req = raw.get("request")
    if target and req is not None:
        fail(f"{key}.request", "the target is generated: it takes no request rule")
    if not target:
        if req is None:
            fail(f"{key}.request", "missing request rule (how generation makes this segment from a request)")
        _check_rule(req, REQUEST_RULES, f"{key}.request", fail)
        for a in parse_rule(req)[1]:
            if a not in REQUEST_INPUTS:
                fail(f"{key}.request", f"unknown request input {a!r}; known: {', '.join(REQUEST_INPUTS)}")
    return Segment(raw["name"], raw["modality"], str(raw.get("description") or ""), str(raw["example"]),
                   None if req is None else str(req))
