"""Import a published UniAudio LM experiment dir as this project's exported model.

``import_lm(EXP_DIR, OUT)`` reads the training arguments and ``token_list`` (``config.yaml``), only the
model weights of the checkpoint (weights-only; entries needing pickled classes are skipped and said so),
translates the ids by name (:mod:`uniaudio.reference.token_map`), maps the tensors
(:mod:`uniaudio.reference.lm_weights`) and writes the export through the same function ``uniaudio train``
uses, so ``generate --model OUT``, ``evaluate`` and ``train --init-from OUT`` read it unchanged. Beside it:
``OUT/import_report.json`` (every published id -> its id here, the published ids without counterpart,
the ids here left untrained) and an MLflow run with the source hashes.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uniaudio.errors import UserFacingError
from uniaudio.stores.uri import sha256

REPORT = "import_report.json"
_EPOCH = re.compile(r"^ep(\d+)\.checkpoint$")


@dataclass
class ImportResult:
    out: Path
    report: dict[str, Any]
    run_id: str | None

    def summary(self) -> str:
        r = self.report
        return (f"imported {r['source']['checkpoint']} -> {self.out}: {r['model']['n_params']:,} parameters, "
                f"{len(r['id_map'])} of {r['published_vocab_size']} published ids translated, "
                f"{len(r['unmapped'])} without counterpart, {r['untrained_count']} ids here untrained"
                + (f"; skipped checkpoint entries: {', '.join(r['skipped_entries'])}" if r["skipped_entries"] else ""))


def find_checkpoint(exp_dir: Path, checkpoint: str | Path | None) -> Path:
    """``checkpoint`` (relative to ``exp_dir`` or absolute), else the highest ``ep<N>.checkpoint``."""
    if checkpoint is not None:
        p = Path(checkpoint)
        p = p if p.is_absolute() or p.exists() else exp_dir / p
        if not p.is_file():
            raise UserFacingError(f"{p}: no such checkpoint file")
        return p
    found = sorted((int(m.group(1)), f) for f in exp_dir.glob("ep*.checkpoint") if (m := _EPOCH.match(f.name)))
    if not found:
        raise UserFacingError(f"{exp_dir}: no ep<N>.checkpoint in it; pass --checkpoint FILE")
    return found[-1][1]


def _ranges(ids: list[int]) -> list[list[int]]:
    """Sorted ids -> half-open ``[start, stop)`` runs (the untrained ids are long contiguous ranges)."""
    out: list[list[int]] = []
    for i in ids:
        if out and out[-1][1] == i:
            out[-1][1] = i + 1
        else:
            out.append([i, i + 1])
    return out


def import_lm(exp_dir: str | Path, out: str | Path, checkpoint: str | Path | None = None,
              lineage_extra: dict[str, Any] | None = None, tracking_uri: str | None = None,
              seed: int = 0, phones: str | Path | None = None, log_model: bool = False) -> ImportResult:
    """Import (see the module doc). ``lineage_extra`` (e.g. ``codec_dir``) is merged into the export's
    lineage; untrained rows get this project's initialisation under ``seed``. ``phones``: an imported
    phone dir (``import-reference phones``): the phone ids translate through it, and the lineage's
    tokenizer settings select it, so generation tokenizes text into the ids the LM was trained on.
    ``log_model``: also log the export as the run's ``model`` artifact (``runs:/<id>/model``, as training does)."""
    import torch

    from uniaudio.model import build_model
    from uniaudio.reference.lm_config import model_config, read_args
    from uniaudio.reference.lm_weights import count_layers, map_state_dict, strip_module
    from uniaudio.reference.token_map import translate
    from uniaudio.reference.torch_file import read_torch_file
    from uniaudio.stores.exported import write_export
    from uniaudio.vocab import load_vocab

    exp, out_dir = Path(exp_dir), Path(out)
    if not exp.is_dir():
        raise UserFacingError(f"{exp}: not a directory (expected a published LM experiment dir)")
    cfg_path = exp / "config.yaml"
    args = read_args(cfg_path)
    ckpt = find_checkpoint(exp, checkpoint)
    tf = read_torch_file(ckpt)
    raw = tf.entries.get("model")
    if raw is None:
        raw = tf.entries if tf.entries and all(isinstance(v, torch.Tensor) for v in tf.entries.values()) else None
    if not isinstance(raw, dict) or not raw:
        why = f" (it needed classes: {tf.skipped['model']})" if "model" in tf.skipped else ""
        raise UserFacingError(f"{ckpt}: no 'model' state dict in the checkpoint{why}")
    bad = next((k for k, v in raw.items() if not isinstance(v, torch.Tensor)), None)
    if bad is not None:
        raise UserFacingError(f"{ckpt}: model entry {bad} is not a tensor")
    state = strip_module(raw)
    token_list = args["token_list"]
    n_global, n_local = count_layers(state, "g_layers"), count_layers(state, "l_layers")
    t5 = state.get("continuous_mappings.text_t5.weight")
    cfg = model_config(args, n_local, int(t5.shape[1]) if t5 is not None and t5.dim() == 2 else 768, cfg_path)
    if n_global != cfg.n_layer:
        raise UserFacingError(f"{ckpt}: {n_global} global layers in the checkpoint but n_layer={cfg.n_layer} "
                              f"in {cfg_path}")
    vocab = load_vocab(cfg.vocab)
    phone_ids, tokenizers = None, {}
    if phones is not None:
        from uniaudio.tokenizers.phone_table import INVENTORY, published_to_local

        pdir = Path(phones).resolve()
        phone_ids = published_to_local(pdir)
        tokenizers = {"tokenizers": {"phone": {"backend": "lexicon", "lexicon": str(pdir),
                                               "inventory": str(pdir / INVENTORY), "dedup": True}}}
    tmap = translate(token_list, vocab, cfg.n_q, phone_ids)
    torch.manual_seed(seed)
    model = build_model(cfg)
    mapped = map_state_dict(state, model.state_dict(), tmap.id_map, n_global, n_local, len(token_list))
    model.load_state_dict(mapped)
    sources = {"config_yaml": str(cfg_path.resolve()), "config_yaml_sha256": sha256(cfg_path),
               "checkpoint": str(ckpt.resolve()), "checkpoint_sha256": sha256(ckpt)}
    lineage = {"imported_from": "published UniAudio LM", **sources,
               "published_args": {k: v for k, v in args.items() if k != "token_list"}, **tokenizers,
               **(lineage_extra or {})}
    write_export(out_dir, mapped, cfg, lineage)
    untrained = tmap.untrained(vocab.size)
    report = {
        "source": sources, "model": {"config": cfg.to_dict(), "n_params": sum(p.numel() for p in model.parameters())},
        "published_vocab_size": len(token_list), "vocab": f"{vocab.name} {vocab.version} ({vocab.size} ids)",
        "id_map": {str(k): v for k, v in tmap.id_map.items()},
        "unmapped": [{"id": i, "name": n} for i, n in tmap.unmapped],
        "untrained_count": len(untrained), "untrained": _ranges(untrained),
        "checkpoint_entries": sorted([*tf.entries, *tf.skipped]), "skipped_entries": tf.skipped,
        "seed": seed,
    }
    (out_dir / REPORT).write_text(json.dumps(report, indent=1) + "\n")
    run_id = _log_mlflow(out_dir, report, tracking_uri, log_model)
    return ImportResult(out_dir, report, run_id)


def _log_mlflow(out_dir: Path, report: dict[str, Any], tracking_uri: str | None, log_model: bool) -> str | None:
    import os

    from uniaudio.tracking import default_artifact_location, local_tracking_dir, resolve_tracking_uri

    run_dir = local_tracking_dir(str(out_dir), "import-reference")
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or resolve_tracking_uri(run_dir)
    artifacts = default_artifact_location(uri, run_dir)  # a local store: beside the export, never the CWD
    db_log = logging.getLogger("mlflow.store.db.utils")  # "Creating initial MLflow database tables..."
    level = db_log.level
    db_log.setLevel(logging.WARNING)
    try:
        return _log_run(uri, artifacts, out_dir, report, log_model)
    finally:
        db_log.setLevel(level)


def _log_run(uri: str, artifacts: str | None, out_dir: Path, report: dict[str, Any], log_model: bool) -> str | None:
    from uniaudio.tracking import MlflowTracker, flatten_params

    tracker = MlflowTracker(uri, experiment="import-reference", artifact_location=artifacts)
    src = report["source"]
    run_id = tracker.start_run("import-lm", tags={
        "component": "import-reference", "kind": "lm", "out": str(out_dir.resolve()),
        "source.checkpoint_sha256": src["checkpoint_sha256"], "source.config_yaml_sha256": src["config_yaml_sha256"]})
    tracker.log_params({**flatten_params(report["model"]["config"], "model."), **{f"source.{k}": v for k, v in src.items()},
                        "published_vocab_size": report["published_vocab_size"]})
    tracker.log_metrics({"ids_translated": len(report["id_map"]), "ids_unmapped": len(report["unmapped"]),
                         "ids_untrained": report["untrained_count"], "n_params": report["model"]["n_params"]})
    tracker.log_artifact(str(out_dir / REPORT))
    tracker.log_artifact(str(out_dir / "lineage.json"))
    if log_model:
        from uniaudio.stores.exported import CONFIG, LINEAGE, VOCAB, WEIGHTS

        for name in (WEIGHTS, CONFIG, VOCAB, LINEAGE):
            tracker.log_artifact(str(out_dir / name), artifact_path="model")
    tracker.end_run()
    return run_id
