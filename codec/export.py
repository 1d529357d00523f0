"""The codec checkpoint directory: ``codec.safetensors`` (weights) + ``codec.json`` (config + content hash).

Weights are stored in inference form: weight norm folded into plain conv weights, plus every quantizer
buffer (codebooks, EMA statistics). ``content_hash`` is a SHA-256 over the tensors (names, dtypes,
shapes, bytes in sorted order), independent of the file encoding; the token store records it as the
tokenizer version, and loading checks it, so a corrupted or swapped weight file is a clear error.
The JSON is written last (atomically): a directory with a ``codec.json`` is complete.

>>> import tempfile
>>> from codec.config import preset
>>> from codec.model import CodecModel
>>> cfg = preset("tiny")
>>> d = export_codec(CodecModel(cfg), cfg, tempfile.mkdtemp())
>>> cfg2, state, meta = read_codec_dir(d)
>>> meta["frame_rate"], meta["max_codebooks"], len(meta["content_hash"])
(50, 4, 64)
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from codec.config import CodecConfig
from codec.model import CodecModel
from codec.seanet import remove_weight_norm
from uniaudio.errors import UserFacingError

WEIGHTS_FILE = "codec.safetensors"
META_FILE = "codec.json"
FORMAT = "uniaudio-codec"
FORMAT_VERSION = 1


def weights_hash(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def inference_state(generator: CodecModel, cfg: CodecConfig) -> dict[str, torch.Tensor]:
    """State dict with weight norm folded (a fresh copy; ``generator`` is left untouched)."""
    wn = any("parametrizations" in k for k in generator.state_dict())
    copy = CodecModel(cfg, weight_norm=wn)
    copy.load_state_dict(generator.state_dict())
    remove_weight_norm(copy)
    return {k: v.detach().cpu().contiguous() for k, v in copy.state_dict().items()}


def export_codec(generator: CodecModel, cfg: CodecConfig, out_dir: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``codec.safetensors`` + ``codec.json`` into ``out_dir``; returns the directory."""
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = inference_state(generator, cfg)
    tmp = out / (WEIGHTS_FILE + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": FORMAT})
    os.replace(tmp, out / WEIGHTS_FILE)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "content_hash": weights_hash(tensors),
        "sample_rate": cfg.model.sample_rate,
        "hop_length": cfg.model.hop_length,
        "frame_rate": cfg.model.frame_rate,
        "codebook_size": cfg.quantizer.codebook_size,
        "max_codebooks": cfg.quantizer.n_q,
        "dimension": cfg.model.dimension,
        "config": {"model": cfg.model.to_dict(), "quantizer": cfg.quantizer.to_dict()},
        "extra": extra or {},
    }
    tmp = out / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(meta, indent=1, sort_keys=True))
    os.replace(tmp, out / META_FILE)
    return out


def codec_dir_in(path: str | Path) -> Path:
    """The codec checkpoint folder ``path`` names: the folder itself, or its ``codec/`` subfolder (what
    ``uniaudio codec train --out DIR`` writes, and the artifact path the training run logs it under).
    Anything else is one clear :class:`UserFacingError`."""
    d = Path(path)
    for cand in (d, d / "codec"):
        if (cand / META_FILE).is_file() and (cand / WEIGHTS_FILE).is_file():
            return cand
    if not d.exists():
        raise UserFacingError(f"codec {d} does not exist")
    raise UserFacingError(f"{d} is not a codec checkpoint: expected {META_FILE} and {WEIGHTS_FILE} in it "
                          f"(or in {d / 'codec'}, as `uniaudio codec train --out {d}` writes)")


def codec_uri_in(uri: str) -> str:
    """The codec folder an object-store ``--codec`` URI names: ``URI/codec`` when ``URI`` is a
    ``codec train --out`` run dir (so a fetch copies the two codec files, not the run's checkpoints),
    else ``URI`` itself."""
    from uniaudio.stores import uri as uris

    sub = uris.join(uri, "codec")
    return sub if uris.is_file(uris.join(sub, META_FILE)) and not uris.is_file(uris.join(uri, META_FILE)) else uri


def read_codec_dir(path: str | Path) -> tuple[CodecConfig, dict[str, torch.Tensor], dict[str, Any]]:
    """-> (config, folded state dict, metadata). Every problem is a :class:`UserFacingError`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    d = codec_dir_in(path)
    meta_p, w_p = d / META_FILE, d / WEIGHTS_FILE
    try:
        meta = json.loads(meta_p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserFacingError(f"{meta_p}: not valid JSON ({err})") from None
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise UserFacingError(f"{meta_p}: format {meta.get('format')!r} v{meta.get('format_version')!r}, "
                              f"expected {FORMAT!r} v{FORMAT_VERSION}")
    try:
        cfg = CodecConfig.model_validate(meta["config"])
    except (KeyError, ValueError) as err:
        raise UserFacingError(f"{meta_p}: invalid codec config ({err})") from None
    try:
        state = load_file(str(w_p))
    except (SafetensorError, OSError, ValueError) as err:
        raise UserFacingError(f"{w_p}: unreadable weights ({err})") from None
    got = weights_hash(state)
    if got != meta.get("content_hash"):
        raise UserFacingError(f"{w_p}: content hash {got[:12]}... does not match {META_FILE} "
                              f"({str(meta.get('content_hash'))[:12]}...): the weights were changed or corrupted")
    return cfg, state, meta


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> tuple[CodecModel, CodecConfig, dict[str, Any]]:
    """The exported generator in eval mode (no weight norm)."""
    cfg, state, meta = read_codec_dir(path)
    model = CodecModel(cfg, weight_norm=False)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise UserFacingError(f"{path}: weights do not fit the config in {META_FILE} ({str(err)[:300]})") from None
    return model.to(device).eval(), cfg, meta


__all__ = ["export_codec", "codec_dir_in", "read_codec_dir", "load_generator", "weights_hash", "WEIGHTS_FILE", "META_FILE"]
