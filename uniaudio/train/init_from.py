"""Fine-tuning: start a training run from an exported model's weights (``TrainConfig.init_from``).

``init_from`` names what ``uniaudio train --out DIR`` exports (``model.safetensors``,
``model_config.json``, ``vocab.json``, ``lineage.json``): a local directory, or an MLflow URI
(``runs:/<id>/model``, ``models:/<name>/<version>``) resolved by the generator's resolver
(:func:`uniaudio.generate.loading.fetch_dir`). The semantics:

* **architecture** comes from the export's ``model_config.json``; the preset is ignored for it, and an
  explicit ``model.<field>`` override that contradicts the export is a :class:`ConfigError` naming the
  field (only the regularisation fields in :data:`TUNABLE` may differ: they change no weight shape);
* **vocabulary**: the export's ``vocab.json`` must be the one this code uses, or a strict subset of it
  with identical ids (a tasks file added task ids: their rows are initialised and reported, see
  :func:`init_new_rows`); anything else is a ``VocabMismatchError``;
* **weights**: read once on the driver with safetensors, checked against the model's parameter names
  and shapes (one clear line on any mismatch, never a torch traceback), hashed (sha256, recorded in the
  lineage and MLflow), and shipped to every rank through the Ray object store, where each rank loads
  them into its freshly built full module *before* ``deepspeed.initialize`` partitions it (ZeRO-3 too);
* **optimizer, LR schedule and step count start fresh** (warm-up from ``optim.warmup_steps``);
* a checkpoint Ray Train restores (a retried worker group, a resumed run) **wins** over ``init_from``.

>>> # cfg = train_config("tiny", overrides=["init_from=runs/base_lm"]); run_training(ex, "runs/ft", cfg)
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from uniaudio.config import ConfigError, parse_override, read_yaml
from uniaudio.errors import UserFacingError

WEIGHTS, CONFIG, VOCAB, LINEAGE = "model.safetensors", "model_config.json", "vocab.json", "lineage.json"
# Fields a fine-tune may set differently from its base: they shape no parameter and no computation
# the base weights were fitted to, only the regularisation of the new run.
TUNABLE = frozenset({"dropout", "attn_dropout"})
# Weights with one row per vocabulary id (new ids of a vocabulary extension get initialised rows).
VOCAB_ROWS = ("frame_emb.weight", "local_emb.weight", "head.weight")


@dataclass
class InitSource:
    """The base model of a fine-tune, validated on the driver."""

    uri: str  # as the user gave it
    directory: Path  # the local folder read (an MLflow URI's download)
    sha256: str  # of model.safetensors, full hex
    state_dict: dict[str, Any] = field(repr=False, default_factory=dict)
    base_lineage: dict[str, Any] = field(default_factory=dict)
    new_rows: dict[str, int] = field(default_factory=dict)  # vocabulary ids the base lacked (initialised)

    def lineage(self) -> dict[str, Any]:
        """What the fine-tuned model's lineage.json records under ``init_from``."""
        rec: dict[str, Any] = {"uri": self.uri, "path": str(self.directory), "sha256": self.sha256}
        if self.new_rows:
            rec["new_vocab_rows"] = dict(self.new_rows)
        for k in ("run_id", "steps", "examples_uri", "examples_version"):
            if k in self.base_lineage:
                rec[f"base_{k}"] = self.base_lineage[k]
        return rec


def _is_mlflow(uri: str) -> bool:
    from uniaudio.generate.loading import is_mlflow_uri

    return is_mlflow_uri(uri)


def read_model_config(uri: str, tracking_uri: str | None = None):
    """The export's ``ModelConfig`` (for an MLflow URI only ``model_config.json`` is downloaded)."""
    from uniaudio.generate.loading import fetch_dir
    from uniaudio.model import ModelConfig

    with tempfile.TemporaryDirectory() as tmp:
        from uniaudio.stores.uri import is_remote

        if _is_mlflow(uri) or is_remote(uri):
            path = fetch_dir(f"{uri.rstrip('/')}/{CONFIG}", tmp, tracking_uri)
        else:
            from uniaudio.stores.uri import local_path

            d = Path(local_path(uri))
            if not d.is_dir():
                raise ConfigError(f"init_from: {uri} is not a directory (expected an exported model: "
                                  f"what `uniaudio train --out DIR` writes)")
            path = d / CONFIG
        if not path.is_file():
            raise ConfigError(f"init_from: {uri} is not an exported model: {CONFIG} is missing")
        try:
            return ModelConfig.model_validate(json.loads(path.read_text()))
        except Exception as err:  # noqa: BLE001 - bad JSON or invalid fields: one line naming the file
            raise ConfigError(f"init_from: {uri}/{CONFIG} is not a valid model config "
                              f"({type(err).__name__}: {str(err).splitlines()[0][:200]})") from None


def explicit_model_fields(path: str | Path | None, overrides: Sequence[str]) -> dict[str, Any]:
    """``model.<field>`` values the user set in the YAML file or with ``--set`` (later wins)."""
    out: dict[str, Any] = {}
    if path is not None:
        section = read_yaml(path).get("model")
        if isinstance(section, Mapping):
            out.update(section)
    for item in overrides:
        keys, value = parse_override(item)
        if keys[0] != "model":
            continue
        if len(keys) == 1:
            out.update(value if isinstance(value, Mapping) else {})
        else:
            out[keys[1]] = value
    return out


def architecture_conflicts(model, base) -> list[str]:
    """Fields (outside :data:`TUNABLE`) where ``model`` differs from the export's ``base`` config."""
    a, b = model.to_dict(), base.to_dict()
    return [k for k in b if k not in TUNABLE and a.get(k) != b[k]]


def apply_init_architecture(cfg, explicit: Mapping[str, Any], tracking_uri: str | None = None):
    """``cfg`` with its model taken from ``cfg.init_from``'s export; contradicting overrides -> ConfigError."""
    base = read_model_config(cfg.init_from, tracking_uri)
    model = cfg.model.to_dict()
    for name in explicit:
        if name in TUNABLE or name not in model:
            continue  # unknown names were already rejected when cfg was validated
        if model[name] != getattr(base, name):
            raise ConfigError(f"invalid TrainConfig config: model.{name}: {model[name]!r} contradicts init_from "
                              f"{cfg.init_from} ({CONFIG} has {name}={getattr(base, name)!r}); a fine-tune keeps "
                              f"the base model's architecture: drop the override")
    merged = {**base.to_dict(), **{k: model[k] for k in explicit if k in TUNABLE}}
    return cfg.model_copy(update={"model": type(base).model_validate(merged)})


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_weights(state_dict: Mapping[str, Any], model_config, where: str) -> None:
    """Names and shapes of ``state_dict`` must be exactly the model's (built on ``meta``: no memory)."""
    from uniaudio.model import build_model

    want = {k: tuple(v.shape) for k, v in build_model(model_config, "meta").state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state_dict.items()}
    missing, unexpected = sorted(want.keys() - got.keys()), sorted(got.keys() - want.keys())
    if missing or unexpected:
        raise UserFacingError(f"init_from {where}: the weights do not match the model config "
                              f"(missing {missing[:4]}, unexpected {unexpected[:4]})")
    bad = [f"{k} {got[k]} != {want[k]}" for k in sorted(want) if got[k] != want[k]]
    if bad:
        raise UserFacingError(f"init_from {where}: {len(bad)} weight shape(s) do not match the model config: "
                              f"{'; '.join(bad[:3])}")


def prepare_init(cfg, work_dir: str | Path, tracking_uri: str | None = None) -> InitSource:
    """Resolve, validate, hash and read ``cfg.init_from`` for the run whose model is ``cfg.model``.

    Every failure is one message: a missing file, a corrupt ``model.safetensors``, an architecture or
    vocabulary mismatch, a weight name/shape mismatch.
    """
    from uniaudio.generate.loading import fetch_dir
    from uniaudio.model import ModelConfig
    from uniaudio.safe_load import read_safetensors
    from uniaudio.vocab import load_vocab

    uri = cfg.init_from
    d = fetch_dir(uri, Path(work_dir) / "init_from", tracking_uri)
    if not d.is_dir():
        raise UserFacingError(f"init_from {uri} is not a directory (expected an exported model)")
    for name in (WEIGHTS, CONFIG, VOCAB):
        if not (d / name).is_file():
            raise UserFacingError(f"init_from {uri} is not an exported model: {name} is missing")
    try:
        base = ModelConfig.model_validate(json.loads((d / CONFIG).read_text()))
    except Exception as err:  # noqa: BLE001
        raise UserFacingError(f"init_from {uri}: {CONFIG} is not a valid model config ({type(err).__name__})") from None
    conflicts = architecture_conflicts(cfg.model, base)
    if conflicts:
        shown = ", ".join(f"model.{k}={getattr(cfg.model, k)!r} (export: {getattr(base, k)!r})" for k in conflicts[:4])
        raise ConfigError(f"invalid TrainConfig config: the model differs from init_from {uri}'s {CONFIG}: {shown}; "
                          f"resolve the config with train_config(...) so the architecture comes from the export")
    added = check_init_vocab(load_vocab(cfg.model.vocab), d / VOCAB, uri)
    try:
        state = read_safetensors(d / WEIGHTS)
    except UserFacingError as err:  # truncated, bad header -> one line
        raise UserFacingError(f"init_from {uri}: {err}") from None
    check_weights(state, cfg.model, uri)
    if added:
        init_new_rows(state, added, list(load_vocab(cfg.model.vocab).tasks.values()))
        print(f"init_from {uri}: vocabulary extended by {len(added)} id(s) ({', '.join(f'{k}={v}' for k, v in added.items())}); "
              f"their rows of {', '.join(VOCAB_ROWS)} set to the mean of the base's task rows, every other row kept", flush=True)
    lineage_p = d / LINEAGE
    try:
        base_lineage = json.loads(lineage_p.read_text()) if lineage_p.is_file() else {}
    except ValueError:
        base_lineage = {}  # the lineage is informative; the weights and config are what count
    return InitSource(uri=uri, directory=d.resolve(), sha256=_sha256(d / WEIGHTS), state_dict=state,
                      base_lineage=base_lineage if isinstance(base_lineage, dict) else {}, new_rows=added)


def check_init_vocab(current, base_path: Path, uri: str) -> dict[str, int]:
    """The ids ``current`` adds over the base's ``vocab.json``: {} when they are the same vocabulary, the
    new specials when the base is a strict subset with identical ids (a task extension); otherwise the
    usual :class:`~uniaudio.errors.VocabMismatchError`."""
    from uniaudio.errors import VocabMismatchError
    from uniaudio.vocab import Vocab, _read_doc
    from uniaudio.vocab_extension import new_ids

    try:
        current.check_compatible(base_path, what=f"init_from model {uri}")
        return {}
    except VocabMismatchError as err:
        try:
            added = new_ids(Vocab(_read_doc(base_path)), current)
        except (VocabMismatchError, KeyError, TypeError, ValueError):
            raise err from None
        if not added:
            raise
        return added


def init_new_rows(state: dict[str, Any], added: Mapping[str, int], task_ids: Sequence[int]) -> None:
    """Rows of the new ids in every vocabulary-indexed weight := the mean of the base's task-id rows
    (a task token starts as "some task"); every other row is left exactly as the base has it."""
    new = sorted(set(added.values()))
    base_tasks = [i for i in task_ids if i not in new]
    for name in VOCAB_ROWS:
        if name in state:
            w = state[name].clone()
            w[new] = w[base_tasks].mean(0, keepdim=True).to(w.dtype)
            state[name] = w


def load_into(model, state_dict: Mapping[str, Any]) -> None:
    """Copy ``state_dict`` into ``model`` (strict: every parameter, nothing else), keeping its device."""
    import torch

    with torch.no_grad():
        model.load_state_dict(dict(state_dict), strict=True)
