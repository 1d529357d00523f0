"""Import the published UniAudio codec (``universal_model``: ``config.yaml`` + ``model.pth``) as a codec dir.

The release is a SoundStream: the SEANet encoder/decoder of :mod:`codec.seanet` with old-style weight
norm (``weight_g``/``weight_v``) in ``nn.Sequential`` layouts, a residual VQ of EMA codebooks, and an
encoder whose convs extend their reflect padding to whole frames (``end_padding="reflect"`` here).
``config.yaml`` holds ``generator: {name: SoundStream, config: {n_filters, D, target_bandwidths,
ratios, sample_rate, bins}}``; ``model.pth`` is ``torch.save({"codec_model": state_dict})``, read with
``weights_only=True``. Weight norm is folded (``g * v / ||v||``, the published formula) and every
tensor is renamed to this project's modules, so the result is an ordinary codec checkpoint
(:mod:`codec.export`) that ``Codec.load`` and every ``--codec`` accept. A bitrate of ``b`` kbps is
``n_q = b * 1000 / (50 frames/s * 10 bits)`` codebooks: 1.5 kbps = 3, 6 kbps = 12.

Layout (n = number of ratios; the published ratios are the decoder's order, the encoder runs them
reversed): ``encoder.model.0`` first conv, ``.{1+3i}`` residual block (``block.1``, ``block.3``,
``shortcut``), ``.{3+3i}`` strided conv, ``.{3n+1}.lstm``, ``.{3n+3}`` last conv; decoder
``.0`` first conv, ``.1.lstm``, ``.{3+3i}.convtr`` transposed conv, ``.{4+3i}`` residual block,
``.{3n+3}`` last conv; ``quantizer.vq.layers.K._codebook.{inited,cluster_size,embed,embed_avg}``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from codec.config import CodecConfig, ModelConfig, QuantizerConfig
from uniaudio.errors import UserFacingError
from uniaudio.stores.uri import sha256

CONFIG_FILE = "config.yaml"
WEIGHTS_FILE = "model.pth"
STATE_KEY = "codec_model"
FRAME_RATE = 50


def read_config(src: Path) -> tuple[CodecConfig, dict[str, Any]]:
    """``config.yaml`` -> (this project's config, the published generator config)."""
    import yaml

    path = src / CONFIG_FILE
    if not path.is_file():
        raise UserFacingError(f"{path}: missing (a published codec dir holds {CONFIG_FILE} and {WEIGHTS_FILE})")
    try:
        doc = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise UserFacingError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    gen = doc.get("generator") if isinstance(doc, dict) else None
    if not isinstance(gen, dict) or gen.get("name") != "SoundStream" or not isinstance(gen.get("config"), dict):
        raise UserFacingError(f"{path}: expected generator: {{name: SoundStream, config: {{...}}}}")
    pub = gen["config"]
    missing = [k for k in ("n_filters", "D", "target_bandwidths", "ratios", "sample_rate", "bins") if k not in pub]
    if missing:
        raise UserFacingError(f"{path}: generator.config lacks {', '.join(missing)}")
    ratios, sr, bins = list(pub["ratios"]), int(pub["sample_rate"]), int(pub["bins"])
    if sr != 16000 or math.prod(ratios) != 320:
        raise UserFacingError(f"{path}: sample_rate {sr}, hop {math.prod(ratios)}; this project's codecs are "
                              "16 kHz with hop 320 (50 frames/s)")
    n_q = n_q_for_kbps(max(pub["target_bandwidths"]), bins)
    try:
        cfg = CodecConfig(
            model=ModelConfig(channels=int(pub["n_filters"]), dimension=int(pub["D"]), strides=list(reversed(ratios)),
                              end_padding="reflect"),
            quantizer=QuantizerConfig(n_q=n_q, codebook_size=bins),
        )
    except ValueError as err:
        raise UserFacingError(f"{path}: generator.config does not fit a codec here ({str(err).splitlines()[0]})") from None
    return cfg, pub


def _rename(n: int) -> dict[str, str]:
    """Published module prefix -> this project's (``n`` = number of strides)."""
    names = {"encoder.model.0.conv.conv": "encoder.conv_in.conv",
             f"encoder.model.{3 * n + 1}.lstm": "encoder.lstm.lstm",
             f"encoder.model.{3 * n + 3}.conv.conv": "encoder.conv_out.conv",
             "decoder.model.0.conv.conv": "decoder.conv_in.conv",
             "decoder.model.1.lstm": "decoder.lstm.lstm",
             f"decoder.model.{3 * n + 3}.conv.conv": "decoder.conv_out.conv"}
    for i in range(n):
        for side, block in (("encoder", 1 + 3 * i), ("decoder", 4 + 3 * i)):
            for pub, ours in (("block.1", "conv1"), ("block.3", "conv2"), ("shortcut", "shortcut")):
                names[f"{side}.model.{block}.{pub}.conv.conv"] = f"{side}.blocks.{i}.{ours}.conv"
        names[f"encoder.model.{3 + 3 * i}.conv.conv"] = f"encoder.downs.{i}.conv"
        names[f"decoder.model.{3 + 3 * i}.convtr.convtr"] = f"decoder.ups.{i}.conv"
    return names


def convert_state(state: dict[str, torch.Tensor], cfg: CodecConfig, where: str) -> dict[str, torch.Tensor]:
    """The published ``codec_model`` state dict -> this project's folded one; every problem names the tensor."""
    from codec.model import CodecModel

    expected = CodecModel(cfg, weight_norm=False).state_dict()
    prefixes = _rename(len(cfg.model.strides))
    out: dict[str, torch.Tensor] = {}
    seen: set[str] = set()
    for pub, ours in prefixes.items():
        for name in [k for k in expected if k.startswith(ours + ".")]:
            leaf = name[len(ours) + 1:]
            if leaf == "weight" and f"{pub}.weight_v" in state:
                v, g = state[f"{pub}.weight_v"], state.get(f"{pub}.weight_g")
                if g is None:
                    raise UserFacingError(f"{where}: {pub}.weight_g is missing (weight_v has no gain)")
                if g.shape != (v.shape[0],) + (1,) * (v.dim() - 1):
                    raise UserFacingError(f"{where}: {pub}.weight_g has shape {tuple(g.shape)}, "
                                          f"expected {(v.shape[0],) + (1,) * (v.dim() - 1)} for weight_v {tuple(v.shape)}")
                tensor = torch._weight_norm(v.float(), g.float(), 0)
                seen |= {f"{pub}.weight_v", f"{pub}.weight_g"}
                src = f"{pub}.weight_v"
            else:
                src = f"{pub}.{leaf}"
                if src not in state:
                    raise UserFacingError(f"{where}: tensor {src} is missing (needed for {name})")
                tensor = state[src]
                seen.add(src)
            _check_shape(tensor, expected[name], src, where)
            out[name] = tensor.float().contiguous()
    for k in range(cfg.quantizer.n_q):
        for leaf in ("inited", "cluster_size", "embed", "embed_avg"):
            src, name = f"quantizer.vq.layers.{k}._codebook.{leaf}", f"quantizer.layers.{k}.{leaf}"
            if src not in state:
                raise UserFacingError(f"{where}: tensor {src} is missing")
            tensor = state[src].reshape(()) if leaf == "inited" and state[src].numel() == 1 else state[src]
            _check_shape(tensor, expected[name], src, where)
            out[name] = tensor.float().contiguous()
            seen.add(src)
        out[f"quantizer.layers.{k}.rng_counter"] = torch.zeros((), dtype=torch.long)
    extra = sorted(set(state) - seen)
    if extra:
        raise UserFacingError(f"{where}: unexpected tensor {extra[0]} ({len(extra)} not in a SoundStream of "
                              f"{cfg.quantizer.n_q} codebooks, {cfg.model.channels} filters, D={cfg.model.dimension})")
    return out


def _check_shape(tensor: Any, want: torch.Tensor, src: str, where: str) -> None:
    if not torch.is_tensor(tensor):
        raise UserFacingError(f"{where}: {src} is not a tensor ({type(tensor).__name__})")
    if tuple(tensor.shape) != tuple(want.shape):
        raise UserFacingError(f"{where}: tensor {src} has shape {tuple(tensor.shape)}, expected {tuple(want.shape)} "
                              "(config.yaml and model.pth disagree)")


def read_weights(src: Path) -> dict[str, torch.Tensor]:
    path = src / WEIGHTS_FILE
    if not path.is_file():
        raise UserFacingError(f"{path}: missing (a published codec dir holds {CONFIG_FILE} and {WEIGHTS_FILE})")
    import pickle

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as err:
        raise UserFacingError(f"{path}: not a readable weights-only torch checkpoint "
                              f"({str(err).splitlines()[0][:200]})") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get(STATE_KEY), dict):
        keys = list(ckpt)[:5] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise UserFacingError(f"{path}: expected {{{STATE_KEY!r}: state_dict}}, found {keys}")
    return ckpt[STATE_KEY]


def import_codec(src_dir: str | Path, out_dir: str | Path) -> Path:
    """Convert a published codec dir into a codec checkpoint dir at ``out_dir``; returns it."""
    from codec.export import export_codec
    from codec.model import CodecModel

    src = Path(src_dir)
    if not src.is_dir():
        raise UserFacingError(f"{src}: not a directory (expected the unpacked universal_model with "
                              f"{CONFIG_FILE} and {WEIGHTS_FILE})")
    cfg, pub = read_config(src)
    state = convert_state(read_weights(src), cfg, str(src / WEIGHTS_FILE))
    model = CodecModel(cfg, weight_norm=False)
    model.load_state_dict(state)
    extra = {"imported_from": "published SoundStream (universal_model)", "published_config": pub,
             "source_sha256": {n: sha256(src / n) for n in (CONFIG_FILE, WEIGHTS_FILE)},
             "n_q_for_kbps": {str(bw): n_q_for_kbps(bw, cfg.quantizer.codebook_size) for bw in pub["target_bandwidths"]}}
    return export_codec(model, cfg, out_dir, extra=extra)


def n_q_for_kbps(kbps: float, bins: int = 1024) -> int:
    """Codebooks for a published bitrate (a codebook of 1024 codes: 10 bits at 50 frames/s = 0.5 kbps)."""
    return max(1, int(kbps * 1000 // (FRAME_RATE * math.ceil(math.log2(bins)))))
