"""Local model weights a step needs (T5 text encoder, HuBERT), checked when the DAG is validated.

Why at validation: the full plan (``workflows/full.yaml``) conditions on the paper's T5 embedding and
fits HuBERT layer-9 units; without those folders it would tokenize for hours and only then fail (or,
worse, the run would silently use another encoder). So every step kind whose config names such a
folder checks it while the DAG is parsed — ``workflow run``, ``--dry-run`` and ``submit`` — before
any compute, and the error names the folder, what belongs in it and how to get it. Only files are
looked at (``config.json`` with the right ``model_type``, a weights file, for T5 a tokenizer file):
no model is loaded.

>>> weights_problem("t5", None).startswith("the T5 text encoder (google/t5-v1_1-base) is not configured")
True
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import yaml

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
KINDS = {
    "t5": {
        "what": "the T5 text encoder (google/t5-v1_1-base)",
        "model_type": "t5",
        "extra": ("spiece.model", "tokenizer.json"),
        "key": "tokenizers.text_emb.t5_dir",
        "how": "put a local copy of the HuggingFace folder google/t5-v1_1-base there (config.json, "
               "model.safetensors, spiece.model / tokenizer.json; e.g. `huggingface-cli download "
               "google/t5-v1_1-base --local-dir DIR` on a machine with internet) and point vars.t5_dir at it",
    },
    "hubert": {
        "what": "the HuBERT model (facebook/hubert-base-ls960, layer-9 features for the 500 semantic units)",
        "model_type": "hubert",
        "extra": (),
        "key": "hubert_dir / tokenizers.semantic.hubert_dir",
        "how": "import the published one with `uniaudio import-reference semantic hubert_base_ls960.pt "
               "hubert_base_ls960_L9_km500.bin --out OUT` (docs/REFERENCE_MODELS.md) and point vars.hubert_dir "
               "at OUT/hubert, or put a local copy of the HuggingFace folder facebook/hubert-base-ls960 there",
    },
}


def weights_problem(kind: str, path: str | None) -> str | None:
    """Why ``path`` is not a usable local folder of ``kind`` (``t5`` / ``hubert``), or None when it is."""
    k = KINDS[kind]
    tail = f"; {k['how']}. The offline demo (workflows/demo.yaml) uses MiniLM / MFCC units instead."
    if not path:
        return f"{k['what']} is not configured ({k['key']} is empty){tail}"
    p = Path(str(path)).expanduser()
    if not p.is_dir():
        return f"{k['what']} is missing: no folder {str(p)!r}{tail}"
    cfg = p / "config.json"
    try:
        model_type = json.loads(cfg.read_text("utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        return f"{k['what']}: {str(p)!r} has no readable config.json{tail}"
    if model_type != k["model_type"]:
        return f"{k['what']}: {str(p)!r} holds a {model_type!r} model, not {k['model_type']!r}{tail}"
    if not any((p / w).is_file() for w in WEIGHT_FILES):
        return f"{k['what']}: {str(p)!r} has no {' or '.join(WEIGHT_FILES)}{tail}"
    if k["extra"] and not any((p / f).is_file() for f in k["extra"]):
        return f"{k['what']}: {str(p)!r} has no tokenizer ({' or '.join(k['extra'])}){tail}"
    return None


def overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["a.b=1", ...]`` (a kind's ``set``) -> ``{"a.b": 1}``; values parsed as YAML like the CLI does."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if sep:
            try:
                out[key.strip()] = yaml.safe_load(value)
            except yaml.YAMLError:
                out[key.strip()] = value
    return out


def check_tokenizer_weights(items: Iterable[str], prefix: str = "tokenizers.") -> None:
    """Raise ValueError when ``set`` overrides select T5 / HuBERT whose local folders are unusable."""
    o = overrides(items)
    if o.get(f"{prefix}text_emb.model") == "t5":
        problem = weights_problem("t5", o.get(f"{prefix}text_emb.t5_dir"))
        if problem:
            raise ValueError(problem)
    if f"{prefix}semantic.hubert_dir" in o:
        problem = weights_problem("hubert", o[f"{prefix}semantic.hubert_dir"])
        if problem:
            raise ValueError(problem)
