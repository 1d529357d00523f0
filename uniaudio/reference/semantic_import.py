"""Import the published semantic tokenizer: fairseq HuBERT weights + its k-means -> a semantic tokenizer here.

``import_semantic(HUBERT.pt, KMEANS.bin, OUT)`` writes::

    OUT/hubert/        a transformers HubertModel folder (config.json + model.safetensors): the model
                       class the semantic tokenizer already uses for ``kind: hubert`` features
    OUT/kmeans.npz     this project's k-means file: the published centres, features = HuBERT layer 9
    OUT/import_report.json

so ``SemanticConfig(enabled=True, kmeans_path=OUT/kmeans.npz, hubert_dir=OUT/hubert)`` yields the units the
published LM was trained on. The checkpoint is read weights-only (its ``args`` Namespace / omegaconf
entries are skipped); the k-means pickle through the restricted reader of :mod:`.kmeans_pickle`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from uniaudio.errors import UserFacingError

HUBERT_DIR, KMEANS, REPORT = "hubert", "kmeans.npz", "import_report.json"


def import_semantic(hubert_pt: str | Path, kmeans_bin: str | Path, out: str | Path, layer: int = 9) -> dict[str, Any]:
    """Import (see the module doc); returns the report."""
    import torch
    from transformers import HubertModel

    from uniaudio.reference.hubert_weights import hubert_config, map_hubert
    from uniaudio.reference.kmeans_pickle import read_kmeans_centers
    from uniaudio.stores.uri import sha256
    from uniaudio.reference.torch_file import read_torch_file
    from uniaudio.tokenizers.base import dir_sha256
    from uniaudio.tokenizers.features import FeatureConfig
    from uniaudio.tokenizers.kmeans import KMeansModel
    from uniaudio.tokenizers.semantic import SEMANTIC_RANGE

    src, km_path, dst = Path(hubert_pt), Path(kmeans_bin), Path(out)
    tf = read_torch_file(src)
    state = tf.entries.get("model")
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserFacingError(f"{src}: no 'model' state dict of tensors (not a fairseq HuBERT checkpoint)")
    cfg = tf.entries.get("cfg") if isinstance(tf.entries.get("cfg"), dict) else None
    hc = hubert_config(state, cfg)
    if not 1 <= layer <= hc.num_hidden_layers:
        raise UserFacingError(f"layer {layer} is not one of the checkpoint's 1..{hc.num_hidden_layers} transformer layers")
    centers = read_kmeans_centers(km_path)  # before writing anything: a refused pickle leaves no output
    if centers.shape[1] != hc.hidden_size or not 2 <= centers.shape[0] <= SEMANTIC_RANGE:
        raise UserFacingError(f"{km_path}: {centers.shape[0]} centres of width {centers.shape[1]}; expected 2..{SEMANTIC_RANGE} "
                              f"of the HuBERT width {hc.hidden_size}")
    model = HubertModel(hc)
    mapped, dropped = map_hubert(state, model.state_dict())
    model.load_state_dict(mapped)
    model.eval().save_pretrained(str(dst / HUBERT_DIR))
    sources = {"hubert": str(src.resolve()), "hubert_sha256": sha256(src), "kmeans": str(km_path.resolve()),
               "kmeans_sha256": sha256(km_path)}
    km = KMeansModel(centers, meta={"features": FeatureConfig(kind="hubert", hubert_layer=layer).to_dict(),
                                    "hubert_weights": dir_sha256(dst / HUBERT_DIR), "imported_from": sources})
    km.save(dst / KMEANS)
    report = {"source": sources, "hubert_config": {k: hc.to_dict()[k] for k in (
        "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "conv_dim", "conv_kernel",
        "conv_stride", "feat_extract_norm", "do_stable_layer_norm")}, "layer": layer, "k": int(centers.shape[0]),
        "dropped_tensors": dropped, "skipped_entries": tf.skipped, "cfg_read": cfg is not None,
        "tokenizer": {"semantic": {"enabled": True, "kmeans_path": str((dst / KMEANS).resolve()),
                                   "hubert_dir": str((dst / HUBERT_DIR).resolve())}}}
    (dst / REPORT).write_text(json.dumps(report, indent=1, default=str) + "\n")
    return report
