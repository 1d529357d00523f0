"""The one config system of the project: typed pydantic models, YAML files, ``--set a.b=3`` overrides.

Every component (model, codec, tokenizers, training, workflows) declares its settings as a subclass of
:class:`ConfigBase`. A config is built in layers, later layers winning::

    preset / defaults  ->  YAML file (--config)  ->  overrides (--set key.sub=value)

and validated once, at the end. An invalid value raises :class:`ConfigError` with a single message
naming the dotted field and what it accepts.

>>> from typing import Literal
>>> class Opt(ConfigBase):
...     lr: float = 1e-3
...     schedule: Literal["cosine", "inverse_sqrt"] = "cosine"
>>> class Train(ConfigBase):
...     steps: int = 10
...     opt: Opt = Opt()
>>> load_config(Train, overrides=["opt.lr=0.01", "steps=5"]).opt.lr
0.01
>>> try:
...     load_config(Train, overrides=["opt.schedule=linear"])
... except ConfigError as e:
...     print(e)
invalid Train config: opt.schedule: Input should be 'cosine' or 'inverse_sqrt' (got 'linear')
"""


import argparse
import copy
import hashlib
import json
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

T = TypeVar("T", bound="ConfigBase")


class ConfigError(ValueError):
    """A config could not be loaded or failed validation. The message names the field."""


class ConfigBase(BaseModel):
    """Base of every config: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def content_hash(self) -> str:
        """Stable hash of the resolved values (used as part of lineage / step keys)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"a.b=3"`` -> (["a", "b"], 3). The value is parsed as YAML, so ``[1,2]``, ``true``, ``1e-4`` work."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not of the form key.sub=value")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {item!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a deep copy of ``data`` with each ``key.sub=value`` override applied."""
    out = copy.deepcopy(data)
    for item in overrides:
        path, value = parse_override(item)
        node = out
        for part in path[:-1]:
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            elif not isinstance(nxt, dict):
                raise ConfigError(f"override {item!r}: {part!r} is a value, not a section")
            node = nxt
        node[path[-1]] = value
    return out


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def format_validation_error(cls: type, err: ValidationError) -> str:
    """One line per failing field: ``field.path: message (got value)``."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "<root>"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            allowed = _field_names_at(cls, e["loc"][:-1])
            msg = f"unknown field; accepted fields: {', '.join(allowed)}"
            parts.append(f"{loc}: {msg}")
            continue
        got = e.get("input")
        shown = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
        parts.append(f"{loc}: {msg}{shown}")
    return f"invalid {cls.__name__} config: " + "; ".join(parts)


def _field_names_at(cls: type, loc: Sequence[Any]) -> list[str]:
    node: Any = cls
    for part in loc:
        fields = getattr(node, "model_fields", None)
        if not fields or part not in fields:
            return []
        node = fields[part].annotation
    return sorted(getattr(node, "model_fields", {}) or [])


def validate_config(cls: type[T], data: Mapping[str, Any]) -> T:
    try:
        return cls.model_validate(dict(data))
    except ValidationError as err:
        raise ConfigError(format_validation_error(cls, err)) from None


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from a local path or an object-store URI (``s3://``, ``gs://``)."""
    from uniaudio.stores import uri as uris

    if uris.is_remote(path):
        if not uris.is_file(path):
            raise ConfigError(f"config file not found: {path}")
        text, where = uris.read_text(path), str(path)
    else:
        p = Path(uris.local_path(path))
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        text, where = p.read_text(), str(p)
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {where} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {where} must hold a mapping at the top level, got {type(data).__name__}")
    return data


def load_config(
    cls: type[T],
    path: str | Path | None = None,
    overrides: Sequence[str] = (),
    base: BaseModel | Mapping[str, Any] | None = None,
) -> T:
    """Build a validated ``cls`` from ``base`` (a preset), then the YAML at ``path``, then ``overrides``."""
    if isinstance(base, BaseModel):
        data: dict[str, Any] = base.model_dump(mode="json")
    else:
        data = dict(base or {})
    if path is not None:
        data = _deep_merge(data, read_yaml(path))
    data = apply_overrides(data, overrides)
    return validate_config(cls, data)


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """Adds ``--config FILE.yaml`` and repeatable ``--set key.sub=value`` to a subcommand."""
    parser.add_argument("--config", metavar="FILE.yaml", help="YAML file with config values")
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override one config field, e.g. --set model.n_layer=4 (repeatable)",
    )


def config_from_args(cls: type[T], args: argparse.Namespace, base: BaseModel | Mapping | None = None) -> T:
    return load_config(cls, getattr(args, "config", None), getattr(args, "overrides", []) or [], base)
