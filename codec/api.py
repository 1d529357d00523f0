"""Inference wrapper: ``Codec.load(uri)``, batched ``encode`` with padding masks, ``decode``.

Batched encoding equals encoding every item alone: each item is zero-padded to a whole number of
frames inside its own length, and every conv of the encoder pads at the item's own end (see
:mod:`codec.seanet`). The only difference left is float round-off from different batch shapes:
latents agree to ~1e-6 (absolute, for unit-scale audio), so codes are identical except where a frame
sits on a near-tie between two codes (the tests check that every differing code is such a tie; see
docs/CODEC.md for measured rates).
Codes past an item's frames are :data:`PAD_CODE` (-1); ``decode`` reads those as padding.

>>> import torch, tempfile
>>> from codec.config import preset
>>> from codec.model import CodecModel
>>> from codec.export import export_codec
>>> cfg = preset("tiny")
>>> codec = Codec.load(str(export_codec(CodecModel(cfg), cfg, tempfile.mkdtemp())))
>>> wav = torch.zeros(2, 16000)
>>> codes = codec.encode(wav, lengths=torch.tensor([16000, 8000]), n_q=3)
>>> tuple(codes.shape), int(codec.num_frames(8000)), int(codes[1, 0, 25])
((2, 3, 50), 25, -1)
>>> tuple(codec.decode(codes).shape)
(2, 16000)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from codec.config import CodecConfig
from codec.model import CodecModel

PAD_CODE = -1


MLFLOW_SCHEMES = ("runs:/", "models:/", "mlflow-artifacts:/")


def _fetch_mlflow(uri: str) -> Path:
    """Download an MLflow run / model / artifact URI (``runs:/<id>`` alone means the run's ``codec``
    artifact, where ``codec train`` logs it) from ``$MLFLOW_TRACKING_URI``'s store into a temp dir."""
    import os
    import re
    import tempfile

    from uniaudio.errors import UserFacingError

    if re.fullmatch(r"runs:/[0-9a-f]+/?", uri):
        uri = uri.rstrip("/") + "/codec"
    tracking = os.environ.get("MLFLOW_TRACKING_URI") or None
    try:
        import mlflow.artifacts
        from mlflow.exceptions import MlflowException

        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tempfile.mkdtemp(prefix="codec-"),
                                                    tracking_uri=tracking,
                                                    registry_uri=os.environ.get("MLFLOW_REGISTRY_URI") or tracking)
    except (MlflowException, OSError) as err:
        raise UserFacingError(f"cannot download codec {uri} from MLflow ({tracking or 'default tracking URI'}): "
                              f"{str(err).splitlines()[0][:300]}") from None
    return Path(local)


def resolve_codec(uri: str | Path) -> Path:
    """A local codec checkpoint folder for any accepted ``--codec`` form: a checkpoint folder, a
    ``codec train --out`` folder (its ``codec/``), ``file://``, ``s3://``/``gs://`` URIs, or MLflow
    ``runs:/<run_id>[/codec]``, ``models:/<name>/<version>`` and ``mlflow-artifacts:/`` URIs."""
    from codec.export import codec_dir_in

    return codec_dir_in(_fetch(str(uri)))


def _fetch(uri: str) -> Path:
    """A local directory for ``uri`` (a path, ``file://``, an MLflow URI, or an object-store URI through
    the node's hash-verified cache, :func:`uniaudio.stores.uri.fetch`)."""
    from uniaudio.stores import uri as uris

    if uri.startswith(MLFLOW_SCHEMES):
        return _fetch_mlflow(uri)
    if not uris.is_remote(uri):
        return Path(uris.local_path(uri))
    from codec.export import codec_uri_in

    return uris.fetch(codec_uri_in(uri))  # s3:// / gs://: the node's hash-verified cache copy


class Codec:
    """A loaded codec (eval mode, weight norm folded). Thread-compatible; no training state."""

    sample_rate = 16_000
    hop_length = 320
    frame_rate = 50

    def __init__(self, model: CodecModel, cfg: CodecConfig, meta: dict[str, Any] | None = None,
                 autocast_dtype: torch.dtype | None = None, fast_cpu: bool = False):
        self.model = model.eval()
        self.cfg = cfg
        self.meta = meta or {}
        #: e.g. torch.bfloat16 for GPU (or AVX-512-BF16 CPU) throughput; codes then differ from fp32
        #: ones at near-ties (4 % of the codes of a calibrated full-size codec, 30-70 % of a weakly
        #: trained one: docs/CODEC.md "Encode speed"), so a token store should not mix the two.
        self.autocast_dtype = autocast_dtype
        #: opt-in: fp32 CPU encode through the time-major plan of codec/fast_encode.py (built on first
        #: use), 3-12 % faster (docs/CODEC.md "Encode speed"); its codes can differ from the default
        #: module path's at near-ties, so a token store should not mix the two (as with bf16)
        self.fast_cpu = fast_cpu
        self._plan = None
        assert cfg.model.hop_length == self.hop_length and cfg.model.sample_rate == self.sample_rate

    @classmethod
    def load(cls, uri: str | Path, device: str | torch.device = "cpu", autocast_dtype: torch.dtype | None = None,
             fast_cpu: bool = False) -> "Codec":
        """Load a codec checkpoint (``codec.json`` + ``codec.safetensors``) in any form
        :func:`resolve_codec` accepts. ``fast_cpu``: see the attribute."""
        from codec.export import load_generator

        model, cfg, meta = load_generator(resolve_codec(uri), device)
        return cls(model, cfg, meta, autocast_dtype, fast_cpu)

    def _autocast(self):
        import contextlib

        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    @classmethod
    def from_generator(cls, generator: CodecModel, cfg: CodecConfig) -> "Codec":
        """Wrap a (training) generator: a folded copy, so training can go on untouched."""
        from codec.export import inference_state

        model = CodecModel(cfg, weight_norm=False)
        model.load_state_dict(inference_state(generator, cfg))
        dev = next(generator.parameters()).device
        return cls(model.to(dev), cfg)

    # --- properties ------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def codebook_size(self) -> int:
        return self.cfg.quantizer.codebook_size

    @property
    def max_codebooks(self) -> int:
        return self.cfg.quantizer.n_q

    @property
    def content_hash(self) -> str:
        if "content_hash" not in self.meta:
            from codec.export import inference_state, weights_hash

            self.meta["content_hash"] = weights_hash(inference_state(self.model, self.cfg))
        return self.meta["content_hash"]

    @property
    def config(self) -> dict[str, Any]:
        return {"model": self.cfg.model.to_dict(), "quantizer": self.cfg.quantizer.to_dict()}

    def to(self, device: str | torch.device) -> "Codec":
        self.model.to(device)
        self._plan = None  # its prepared weights belong to the old device
        return self

    def num_frames(self, lengths):
        """Frames for ``lengths`` samples: ceil(lengths / 320) (int, numpy array or tensor)."""
        return -(-lengths // self.hop_length)

    # --- encode / decode -------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, wav, lengths=None, n_q: int = 3) -> torch.Tensor:
        """``wav [B, T]`` float (or ``[T]``) -> codes ``[B, n_q, F]`` long (or ``[n_q, F]``).

        ``lengths [B]``: valid samples per item (None = all T). F = ceil(max length / 320); codes past
        an item's ``num_frames(length)`` are ``PAD_CODE``.
        """
        if not 1 <= n_q <= self.max_codebooks:
            raise ValueError(f"n_q={n_q} is outside 1..{self.max_codebooks}")
        x = torch.as_tensor(np.asarray(wav) if not torch.is_tensor(wav) else wav, dtype=torch.float32)
        single = x.dim() == 1
        x = x.unsqueeze(0) if single else x
        if x.dim() != 2 or x.shape[-1] == 0:
            raise ValueError(f"wav must be [B, T] or [T] with T > 0, got shape {tuple(x.shape)}")
        B, T = x.shape
        lens = torch.full((B,), T, dtype=torch.long) if lengths is None else torch.as_tensor(lengths, dtype=torch.long).cpu()
        if lens.shape != (B,) or int(lens.min()) < 1 or int(lens.max()) > T:
            raise ValueError(f"lengths must be [B] with values in 1..{T}, got {lens.tolist()}")
        if not torch.isfinite(x).all():
            raise ValueError("wav holds NaN or Inf samples")
        frames = self.num_frames(lens)
        F_ = int(frames.max())
        if self.cfg.model.end_padding == "reflect":  # every conv completes its own last frame (seanet.py)
            x = x[:, : int(lens.max())]
            samples = lens
        else:  # each item rounded up to whole frames with zeros
            x = x[:, : F_ * self.hop_length] if T > F_ * self.hop_length else x
            x = torch.nn.functional.pad(x, (0, F_ * self.hop_length - x.shape[-1]))
            samples = frames * self.hop_length
        uniform = bool((samples == x.shape[-1]).all())
        keep = torch.arange(x.shape[-1]).unsqueeze(0) < lens.unsqueeze(1)
        x = (x * keep).to(self.device)
        with self._autocast():
            codes = self._encode_padded(x.unsqueeze(1), n_q, None if uniform else samples.to(self.device))
        if not uniform:
            pad = torch.arange(F_, device=codes.device).unsqueeze(0) >= frames.to(codes.device).unsqueeze(1)
            codes = codes.masked_fill(pad.unsqueeze(1), PAD_CODE)
        return codes[0] if single else codes

    def _encode_padded(self, wav: torch.Tensor, n_q: int, lengths: torch.Tensor | None) -> torch.Tensor:
        """``wav [B, 1, T]`` -> codes ``[B, n_q, F]``: the module path, or with ``fast_cpu`` in fp32 on CPU
        the time-major plan (:mod:`codec.fast_encode`; GPU and autocast always take the module path)."""
        if not (self.fast_cpu and self.device.type == "cpu" and self.autocast_dtype is None):
            return self.model.encode(wav, n_q, lengths)
        if self._plan is None:
            from codec.fast_encode import FastEncoder

            self._plan = FastEncoder(self.model.encoder)
        z = self._plan(wav, lengths)  # [B, F, D]
        B, F_, D = z.shape
        return self.model.quantizer.encode_rows(z.reshape(B * F_, D), n_q).view(B, F_, n_q).permute(0, 2, 1)

    @torch.no_grad()
    def decode(self, codes) -> torch.Tensor:
        """codes ``[B, n_q, F]`` (or ``[n_q, F]``) -> ``wav [B, F * 320]`` float32 (or ``[F * 320]``).

        Trailing ``PAD_CODE`` frames mark a shorter item: its audio there is zeros, and the rest equals
        decoding the item alone.
        """
        c = torch.as_tensor(np.asarray(codes) if not torch.is_tensor(codes) else codes).long()
        single = c.dim() == 2
        c = c.unsqueeze(0) if single else c
        if c.dim() != 3 or c.shape[-1] == 0:
            raise ValueError(f"codes must be [B, n_q, F] or [n_q, F] with F > 0, got shape {tuple(c.shape)}")
        if not 1 <= c.shape[1] <= self.max_codebooks:
            raise ValueError(f"codes have {c.shape[1]} codebooks; this codec has 1..{self.max_codebooks}")
        valid = c >= 0
        if bool(((c >= self.codebook_size) | ((c < 0) & (c != PAD_CODE))).any()):
            raise ValueError(f"code ids must be in 0..{self.codebook_size - 1} (or {PAD_CODE} for padding)")
        frame_ok = valid.all(1)  # [B, F]
        frames = frame_ok.long().sum(1)
        prefix = torch.arange(c.shape[-1]).unsqueeze(0) < frames.unsqueeze(1)
        if not torch.equal(frame_ok, prefix) or bool((valid.any(1) & ~frame_ok).any()):
            raise ValueError("padding codes (-1) must fill whole trailing frames")
        if int(frames.min()) == 0:
            raise ValueError("every item needs at least one frame of codes")
        uniform = bool((frames == c.shape[-1]).all())
        c = c.clamp_min(0).to(self.device)
        with self._autocast():
            wav = self.model.decode(c, None if uniform else frames.to(self.device)).squeeze(1)
        if not uniform:
            keep = torch.arange(wav.shape[-1], device=wav.device).unsqueeze(0) < (frames.to(wav.device) * self.hop_length).unsqueeze(1)
            wav = wav * keep
        wav = wav.float().cpu()
        return wav[0] if single else wav
