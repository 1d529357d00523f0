"""Resolve ``--model URI`` to a loaded model, and the codec / tokenizer settings from its lineage.

Accepted model URIs:

* an **exported model directory** (``uniaudio train --out DIR`` leaves one: ``model.safetensors``,
  ``model_config.json``, ``vocab.json``, ``lineage.json``);
* a **training checkpoint directory** (DeepSpeed ZeRO shards with a ``latest`` tag): consolidated to
  fp32; the model config comes from ``model_config.json`` or the run's ``train_config.yaml`` in the
  directory or one of its parents (or ``model_config=`` explicitly);
* an **object-store URI** (``s3://``, ``gs://``) of either: copied once per node into the cache dir
  (``$UNIAUDIO_CACHE_DIR``) and verified by hash (:func:`uniaudio.stores.uri.fetch`);
* an **MLflow URI**: ``runs:/<run_id>/model`` (the training driver logs the export under artifact path
  ``model``), ``models:/<name>/<version>``, or any artifact URI MLflow can download
  (``mlflow.artifacts.download_artifacts``); the downloaded folder is an exported model directory.

Lineage keys read (``lineage.json``): ``codec_dir`` (the codec checkpoint the training tokens came
from; relative paths resolve against the model directory), ``codec_hash`` (checked against the loaded
codec), ``tokenizers`` (a :class:`uniaudio.tokenizers.TokenizersConfig` dict).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from uniaudio.errors import UserFacingError

MLFLOW_SCHEMES = ("runs:/", "models:/", "mlflow-artifacts:/")


@dataclass
class LoadedModel:
    model: Any  # MultiScaleLM in eval mode
    config: Any  # ModelConfig
    vocab: Any
    lineage: dict[str, Any]
    uri: str
    directory: Path | None  # the local folder it was read from
    meta: dict[str, Any] = field(default_factory=dict)


def is_mlflow_uri(uri: str) -> bool:
    """An MLflow model/artifact URI (not a path, ``file://`` or object-store URI, which we read ourselves)."""
    from uniaudio.stores import uri as uris

    return uri.startswith(MLFLOW_SCHEMES) or (uris.is_remote(uri) and uris.scheme(uri) not in uris.REMOTE_SCHEMES)


def fetch_dir(uri: str, work_dir: str | Path, tracking_uri: str | None = None) -> Path:
    """A local folder (or file) for ``uri``: a path as is, an object-store URI through the node's
    hash-verified cache, an MLflow/artifact URI downloaded into ``work_dir``."""
    from uniaudio.stores import uri as uris

    if not is_mlflow_uri(uri):
        return uris.fetch(uri)
    try:
        import mlflow.artifacts
        from mlflow.exceptions import MlflowException
    except ImportError:  # pragma: no cover - mlflow is a project dependency
        raise UserFacingError(f"{uri}: MLflow URIs need the mlflow package") from None
    dst = Path(work_dir)
    dst.mkdir(parents=True, exist_ok=True)
    # the model registry lives with the tracking store unless MLFLOW_REGISTRY_URI says otherwise
    registry = os.environ.get("MLFLOW_REGISTRY_URI") or tracking_uri
    try:
        source = _registry_source(uri, tracking_uri, registry) if uri.startswith("models:") else uri
        local = mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=str(dst), tracking_uri=tracking_uri,
                                                    registry_uri=registry)
    except MlflowException as err:
        raise UserFacingError(f"cannot download {uri} from MLflow ({tracking_uri or 'default tracking URI'}): "
                              f"{str(err).splitlines()[0][:300]}") from None
    return Path(local)


def _registry_source(uri: str, tracking_uri: str | None, registry_uri: str | None) -> str:
    """Where a ``models:/name/version`` (or ``@alias``, ``/stage``, ``models:/<model_id>``) URI's files are.

    Resolved with a client bound to the given URIs: MLflow 3.17's own models:/ download path asks the
    *global* registry URI and ignores the ``registry_uri`` argument."""
    import posixpath

    from mlflow import MlflowClient
    from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository
    from mlflow.store.artifact.utils.models import get_model_name_and_version

    base, sub = ModelsArtifactRepository.split_models_uri(uri)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
    found = get_model_name_and_version(client, base)
    if len(found) == 1:
        source = client.get_logged_model(found[0]).artifact_location
    else:
        source = client.get_model_version_download_uri(*found)
    return posixpath.join(source, sub) if sub else source


def _find_upwards(start: Path, names: tuple[str, ...], levels: int = 4) -> Path | None:
    d = start
    for _ in range(levels + 1):
        for n in names:
            if (d / n).is_file():
                return d / n
        if d.parent == d:
            break
        d = d.parent
    return None


def _checkpoint_config(ckpt: Path, model_config: str | Path | None):
    import yaml

    from uniaudio.model import ModelConfig

    if model_config is not None:
        p = Path(model_config)
        data = json.loads(p.read_text()) if p.suffix == ".json" else yaml.safe_load(p.read_text())
        data = data.get("model", data) if isinstance(data, dict) else data
        return ModelConfig.model_validate(data)
    found = _find_upwards(ckpt, ("model_config.json", "train_config.yaml"))
    if found is None:
        raise UserFacingError(f"checkpoint {ckpt}: no model_config.json or train_config.yaml in it or its parents; "
                              f"pass the model config explicitly (--model-config FILE)")
    data = json.loads(found.read_text()) if found.suffix == ".json" else (yaml.safe_load(found.read_text()) or {}).get("model")
    if not data:
        raise UserFacingError(f"{found} holds no model section")
    return ModelConfig.model_validate(data)


def load_checkpoint_dir(ckpt: Path, model_config: str | Path | None = None, device: str = "cpu"):
    """A DeepSpeed checkpoint directory -> (model, config, vocab, lineage)."""
    from uniaudio.model import build_model
    from uniaudio.train import checkpoint as ck
    from uniaudio.train.export import consolidate
    from uniaudio.vocab import load_vocab

    config = _checkpoint_config(ckpt, model_config)
    vocab = load_vocab(config.vocab)
    near = _find_upwards(ckpt, ("vocab.json",))
    if near is not None:
        vocab.check_compatible(near, what=f"checkpoint {ckpt}")
    state = consolidate(ckpt, ck.latest_tag(ckpt))
    model = build_model(config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise UserFacingError(f"{ckpt}: weights do not match the config (missing {missing[:5]}, unexpected {unexpected[:5]})")
    lin_p = _find_upwards(ckpt, ("lineage.json",))
    lineage = json.loads(lin_p.read_text()) if lin_p else {}
    lineage = {**lineage, "checkpoint": str(ckpt)}
    return model.to(device).eval(), config, vocab, lineage


def load_model(uri: str, work_dir: str | Path, device: str = "cpu", tracking_uri: str | None = None,
               model_config: str | Path | None = None) -> LoadedModel:
    """Resolve and load ``uri`` (see the module docstring) onto ``device``."""
    from uniaudio.stores.exported import WEIGHTS, load_exported

    d = fetch_dir(uri, Path(work_dir) / "model", tracking_uri)
    if not d.is_dir():
        raise UserFacingError(f"{uri} is not a directory (expected an exported model or a checkpoint directory)")
    if (d / WEIGHTS).is_file():
        model, config, vocab, lineage = load_exported(d, device)
    elif (d / "latest").is_file():
        model, config, vocab, lineage = load_checkpoint_dir(d, model_config, device)
    else:
        raise UserFacingError(f"{uri}: neither an exported model ({WEIGHTS}) nor a DeepSpeed checkpoint ('latest')")
    return LoadedModel(model, config, vocab, lineage, uri, d)


def load_codec(loaded: LoadedModel, codec_uri: str | None, work_dir: str | Path, device: str = "cpu",
               tracking_uri: str | None = None):
    """The codec: ``codec_uri`` if given, else the lineage's ``codec_dir``; its content hash must equal
    the lineage's ``codec_hash`` when one is recorded (other codes would be noise to the model)."""
    from codec import Codec

    lin = loaded.lineage
    uri = codec_uri or lin.get("codec_dir")
    if not uri:
        raise UserFacingError(f"model {loaded.uri}: its lineage records no codec (codec_dir); pass --codec DIR")
    from uniaudio.stores import uri as uris

    relative = not is_mlflow_uri(uri) and not uris.is_remote(uri) and not Path(uri).is_absolute()
    if not codec_uri and relative and loaded.directory is not None:
        uri = str((loaded.directory / uri).resolve())
    local = fetch_dir(uri, Path(work_dir) / "codec", tracking_uri)
    codec = Codec.load(str(local), device=device)
    want = lin.get("codec_hash")
    if want and codec.content_hash != want:
        raise UserFacingError(f"codec {uri} has content hash {codec.content_hash[:16]}… but the model was trained on "
                              f"tokens of codec {str(want)[:16]}…; pass the matching --codec")
    if codec.codebook_size > loaded.vocab.codebook_size or codec.max_codebooks < loaded.config.n_q:
        raise UserFacingError(f"codec {uri} ({codec.max_codebooks} codebooks of {codec.codebook_size}) cannot "
                              f"decode a model with n_q={loaded.config.n_q} over {loaded.vocab.codebook_size}-code books")
    return codec


def _merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def tokenizers_config(lineage: Mapping[str, Any], overrides: Mapping[str, Any] | None = None):
    """The lineage's tokenizer settings (defaults when absent) with ``overrides`` merged on top."""
    from uniaudio.config import validate_config
    from uniaudio.tokenizers import TokenizersConfig

    base = lineage.get("tokenizers") or {}
    if not isinstance(base, Mapping):
        raise UserFacingError(f"lineage 'tokenizers' must be a mapping, got {type(base).__name__}")
    return validate_config(TokenizersConfig, _merge(base, overrides or {}))
