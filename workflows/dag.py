"""Workflow DAG files: parse, validate, expand ``foreach`` steps, resolve references, order the steps.

A DAG is a YAML file (see docs/WORKFLOWS.md for the full format)::

    name: demo
    vars: {codec_steps: 300, datasets: [real_speech, sfx]}
    steps:
      corpus:   {kind: demo_corpus, config: {small: true}}
      codec:    {kind: codec_train, inputs: {data: corpus.spec}, config: {steps: "${vars.codec_steps}"}}
      tokenize: {kind: tokenize, foreach: "${vars.datasets}",
                 inputs: {spec: corpus.spec, codec: codec.codec}, config: {dataset: "${item}"}}
      examples: {kind: examples, inputs: {tokens: "tokenize[*].table"}}

* ``inputs`` map an input name to ``STEP.OUTPUT`` (``STEP[ITEM].OUTPUT`` for one expansion of a
  ``foreach`` step, ``STEP[*].OUTPUT`` for all of them, as a list in ``foreach`` order) or to a list
  of such references. Inputs are what make a step depend on another one and what its key hashes.
* ``config`` is the step's settings, checked against the kind's config model at load time.
* ``${vars.NAME}`` is replaced when loading (a whole-string reference keeps the value's type),
  ``${item}`` when expanding ``foreach``; ``${run_dir}`` stays symbolic until the step runs, so moving
  a run directory does not change any key.

Every problem is a :class:`DagError` naming the file, the step and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml
from pydantic import Field, ValidationError

from uniaudio.config import ConfigBase, ConfigError, apply_overrides, format_validation_error
from uniaudio.errors import UserFacingError

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_ITEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_REF = re.compile(r"^(?P<step>[A-Za-z][A-Za-z0-9_-]*)(?:\[(?P<item>\*|[A-Za-z0-9][A-Za-z0-9_.-]*)\])?\.(?P<out>[A-Za-z_][A-Za-z0-9_]*)$")
_VAR = re.compile(r"\$\{vars\.([A-Za-z_][A-Za-z0-9_]*)\}")


class DagError(UserFacingError):
    """A DAG file that cannot run; the message names the file, the step and the field."""


class StepSpec(ConfigBase):
    """One step as written in the YAML (before ``foreach`` expansion)."""

    kind: str
    description: str = ""
    inputs: dict[str, str | list[str]] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    foreach: list[str] | None = None
    outputs: list[str] | None = None  # only for ``module:function`` kinds, which declare no outputs
    resources: dict[str, float] = Field(default_factory=dict)  # documented needs, e.g. {GPU: 8}
    retries: int = Field(0, ge=0, le=10)


class RayOptions(ConfigBase):
    """The embedded local Ray instance (ignored when the run joins a cluster)."""

    num_cpus: int | None = Field(None, ge=1)
    object_store_mb: int | None = Field(None, ge=64)


class WorkflowSpec(ConfigBase):
    name: str
    description: str = ""
    vars: dict[str, Any] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)  # set for the run (and the Ray Job's runtime_env)
    ray: RayOptions = RayOptions()
    experiment: str | None = None  # MLflow experiment of the parent run (default: "workflow-<name>")
    steps: dict[str, StepSpec]


@dataclass(frozen=True)
class Ref:
    """``STEP.OUTPUT`` resolved to one concrete (expanded) step id."""

    step: str
    output: str

    def __str__(self) -> str:
        return f"{self.step}.{self.output}"


@dataclass
class Step:
    """A concrete step: one per plain step, one per item of a ``foreach`` step."""

    id: str  # "codec", or "tokenize[real_speech]"
    base: str  # the YAML key ("tokenize")
    item: str | None
    kind: str
    config: dict[str, Any]
    inputs: dict[str, Ref | list[Ref]]
    resources: dict[str, float]
    retries: int
    description: str = ""

    @property
    def deps(self) -> list[str]:
        out: list[str] = []
        for v in self.inputs.values():
            for r in v if isinstance(v, list) else [v]:
                if r.step not in out:
                    out.append(r.step)
        return out


@dataclass
class Workflow:
    spec: WorkflowSpec
    steps: dict[str, Step]  # in execution (topological) order
    source: str  # the file it came from, for messages
    raw: dict[str, Any] = field(default_factory=dict)  # the YAML after overrides (stored with the run)

    @property
    def name(self) -> str:
        return self.spec.name

    def order(self) -> list[str]:
        return list(self.steps)

    def downstream(self, step_ids: Sequence[str]) -> set[str]:
        """``step_ids`` and every step that depends on them, transitively."""
        out = set(step_ids)
        for sid, st in self.steps.items():  # topological order: one pass suffices
            if any(d in out for d in st.deps):
                out.add(sid)
        return out

    def upstream(self, step_ids: Sequence[str]) -> set[str]:
        """``step_ids`` and everything they depend on, transitively."""
        out, todo = set(), list(step_ids)
        while todo:
            s = todo.pop()
            if s not in out:
                out.add(s)
                todo.extend(self.steps[s].deps)
        return out


def step_file_name(step_id: str) -> str:
    """A file-system-safe name for a step id: ``tokenize[sfx]`` -> ``tokenize@sfx``."""
    return step_id.replace("[", "@").replace("]", "")


def _sub_vars(value: Any, vars_: Mapping[str, Any], where: str) -> Any:
    """Replace ``${vars.X}`` everywhere in ``value``; a whole-string reference keeps X's type."""
    if isinstance(value, str):
        m = _VAR.fullmatch(value.strip())
        if m:
            if m.group(1) not in vars_:
                raise DagError(f"{where}: unknown variable ${{vars.{m.group(1)}}} (defined: {', '.join(sorted(vars_)) or 'none'})")
            return vars_[m.group(1)]

        def one(mm: re.Match) -> str:
            if mm.group(1) not in vars_:
                raise DagError(f"{where}: unknown variable ${{vars.{mm.group(1)}}} (defined: {', '.join(sorted(vars_)) or 'none'})")
            return str(vars_[mm.group(1)])

        return _VAR.sub(one, value)
    if isinstance(value, list):
        return [_sub_vars(v, vars_, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _sub_vars(v, vars_, f"{where}.{k}") for k, v in value.items()}
    return value


def _sub_item(value: Any, item: str) -> Any:
    if isinstance(value, str):
        return value.replace("${item}", item)
    if isinstance(value, list):
        return [_sub_item(v, item) for v in value]
    if isinstance(value, dict):
        return {k: _sub_item(v, item) for k, v in value.items()}
    return value


def _validate_spec(data: dict[str, Any], source: str) -> WorkflowSpec:
    try:
        return WorkflowSpec.model_validate(data)
    except ValidationError as err:
        raise DagError(f"{source}: " + format_validation_error(WorkflowSpec, err).replace("invalid WorkflowSpec config: ", "")) from None


def load_workflow(path: str | Path, overrides: Sequence[str] = ()) -> Workflow:
    """Read, override (``steps.codec.config.steps=50``, ``vars.codec_steps=50``), validate and expand a DAG."""
    p = Path(path)
    if not p.is_file():
        raise DagError(f"workflow file {path} does not exist")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as err:
        raise DagError(f"{path}: not valid YAML ({err})") from None
    return parse_workflow(data, str(path), overrides)


def parse_workflow(data: Any, source: str = "<dag>", overrides: Sequence[str] = ()) -> Workflow:
    """Validate a DAG given as a dict (the parsed YAML); see :func:`load_workflow`."""
    if not isinstance(data, dict):
        raise DagError(f"{source}: a workflow must be a mapping with 'name' and 'steps', got {type(data).__name__}")
    try:
        data = apply_overrides(data, list(overrides))
    except ConfigError as err:
        raise DagError(f"{source}: {err}") from None
    raw = dict(data)
    if not isinstance(data.get("vars", {}), dict):
        raise DagError(f"{source}: vars must be a mapping")
    vars_ = data.get("vars") or {}
    steps_raw = data.get("steps")
    if not isinstance(steps_raw, dict) or not steps_raw:
        raise DagError(f"{source}: 'steps' must be a non-empty mapping of step id -> step")
    data = {**data, "steps": _sub_vars(steps_raw, vars_, f"{source}: steps")}
    spec = _validate_spec(data, source)
    from workflows.kinds import get_kind

    steps: dict[str, Step] = {}
    expansions: dict[str, list[str]] = {}
    for sid, s in spec.steps.items():
        where = f"{source}: steps.{sid}"
        if not _ID.match(sid):
            raise DagError(f"{where}: step ids start with a letter and hold letters, digits, '_' or '-'")
        try:
            kind = get_kind(s.kind, s.outputs)
        except (DagError, UserFacingError) as err:
            raise DagError(f"{where}.kind: {err}") from None
        items = [None] if s.foreach is None else s.foreach
        if s.foreach is not None:
            if not s.foreach:
                raise DagError(f"{where}.foreach: an empty list (nothing to run)")
            bad = [i for i in s.foreach if not _ITEM.match(str(i))]
            if bad:
                raise DagError(f"{where}.foreach: item {bad[0]!r} must hold letters, digits, '_', '.' or '-'")
            if len(set(s.foreach)) != len(s.foreach):
                raise DagError(f"{where}.foreach: items repeat")
        expansions[sid] = []
        for item in items:
            cid = sid if item is None else f"{sid}[{item}]"
            cfg = s.config if item is None else _sub_item(s.config, item)
            try:
                cfg = kind.check_config(cfg)
            except ConfigError as err:
                raise DagError(f"{where}.config: {err}") from None
            steps[cid] = Step(cid, sid, item, s.kind, cfg, {}, dict(s.resources), s.retries, s.description)
            expansions[sid].append(cid)
    for sid, s in spec.steps.items():
        kind = get_kind(s.kind, s.outputs)
        missing = [n for n in kind.required_inputs if n not in s.inputs]
        if missing:
            raise DagError(f"{source}: steps.{sid}.inputs: missing {', '.join(missing)} (kind {s.kind} needs "
                           f"{', '.join(kind.required_inputs)})")
        for name, value in s.inputs.items():
            if kind.input_names is not None and name not in kind.input_names:
                raise DagError(f"{source}: steps.{sid}.inputs.{name}: kind {s.kind} takes no such input "
                               f"(inputs: {', '.join(kind.input_names)})")
            for cid in expansions[sid]:
                item = steps[cid].item
                vals = value if isinstance(value, list) else [value]
                refs: list[Ref] = []
                for v in vals:
                    v = v if item is None else _sub_item(v, item)
                    refs += _resolve_ref(v, spec, expansions, f"{source}: steps.{sid}.inputs.{name}")
                many = isinstance(value, list) or any("[*]" in v for v in vals)
                steps[cid].inputs[name] = refs if many else refs[0]
    ordered = _toposort(steps, source)
    return Workflow(spec, {sid: steps[sid] for sid in ordered}, source, raw)


def _resolve_ref(text: str, spec: WorkflowSpec, expansions: dict[str, list[str]], where: str) -> list[Ref]:
    from workflows.kinds import get_kind

    m = _REF.match(str(text).strip())
    if not m:
        raise DagError(f"{where}: {text!r} is not a reference STEP.OUTPUT, STEP[ITEM].OUTPUT or STEP[*].OUTPUT")
    base, item, out = m.group("step"), m.group("item"), m.group("out")
    if base not in spec.steps:
        raise DagError(f"{where}: unknown step {base!r} (steps: {', '.join(spec.steps)})")
    target = spec.steps[base]
    outputs = get_kind(target.kind, target.outputs).outputs
    if out not in outputs:
        raise DagError(f"{where}: step {base!r} ({target.kind}) has no output {out!r} (outputs: {', '.join(outputs)})")
    if target.foreach is None:
        if item is not None:
            raise DagError(f"{where}: step {base!r} has no foreach, so {text!r} cannot name an item")
        return [Ref(base, out)]
    if item is None:
        raise DagError(f"{where}: step {base!r} is a foreach step: write {base}[ITEM].{out} or {base}[*].{out}")
    if item == "*":
        return [Ref(cid, out) for cid in expansions[base]]
    cid = f"{base}[{item}]"
    if cid not in expansions[base]:
        raise DagError(f"{where}: step {base!r} has no item {item!r} (items: {', '.join(target.foreach or [])})")
    return [Ref(cid, out)]


def _toposort(steps: dict[str, Step], source: str) -> list[str]:
    """Each time the first step in file order whose inputs are all done (file order where it can be);
    a cycle is reported with its steps."""
    order: list[str] = []
    done: set[str] = set()
    pending = list(steps)
    while pending:
        ready = next((s for s in pending if all(d in done for d in steps[s].deps)), None)
        if ready is None:
            cycle = _find_cycle(steps, pending)
            raise DagError(f"{source}: the steps form a cycle: {' -> '.join(cycle)}")
        order.append(ready)
        done.add(ready)
        pending.remove(ready)
    return order


def _find_cycle(steps: dict[str, Step], pending: list[str]) -> list[str]:
    seen: list[str] = []
    cur = pending[0]
    while cur not in seen:
        seen.append(cur)
        cur = next(d for d in steps[cur].deps if d in pending)
    return seen[seen.index(cur):] + [cur]


def describe(wf: Workflow) -> str:
    """The expanded steps, one per line: ``id  kind  <- inputs``."""
    lines = []
    for sid, st in wf.steps.items():
        ins = ", ".join(f"{k}={v if isinstance(v, Ref) else '[' + ', '.join(map(str, v)) + ']'}" for k, v in st.inputs.items())
        lines.append(f"{sid:28s} {st.kind:14s} {('<- ' + ins) if ins else ''}".rstrip())
    return "\n".join(lines)
