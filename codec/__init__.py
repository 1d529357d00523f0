"""The neural audio codec: SEANet encoder/decoder + residual VQ, 16 kHz mono, 50 frames/s.

``from codec import Codec`` gives the inference API (``Codec.load(dir)``, ``encode``, ``decode``);
training lives in :mod:`codec.train_step` (one step, no Ray) and :mod:`codec.ray_train` (Ray Train).
See docs/CODEC.md. Heavy imports are deferred so ``import codec`` stays cheap.
"""

from __future__ import annotations

__all__ = ["Codec", "PAD_CODE"]


def __getattr__(name: str):
    if name in __all__:
        from codec import api

        return getattr(api, name)
    raise AttributeError(f"module 'codec' has no attribute {name!r}")
