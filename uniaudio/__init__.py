"""UniAudio: one multi-scale transformer over neural-codec tokens for 11 audio generation tasks.

The documented Python entry point is :func:`load_model`; everything else is reached through the
``uniaudio`` command (``uniaudio --help``) or the subpackages.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def load_model(uri: str, device: str = "cpu", work_dir: str | None = None, tracking_uri: str | None = None) -> Any:
    """Open a model the way ``uniaudio generate --model URI`` does, in eval mode on ``device``.

    ``uri``: an exported model directory (``uniaudio train --out``, ``uniaudio import-reference lm
    --out``), a training checkpoint directory, or an MLflow ``runs:/`` / ``models:/`` URI (downloaded
    into ``work_dir``, default a fresh temporary folder). Returns a ``LoadedModel`` with ``.model``
    (the :class:`~uniaudio.model.MultiScaleLM`), ``.config`` (its ModelConfig), ``.vocab`` and ``.lineage``.

    >>> # m = uniaudio.load_model("runs/imported_lm"); m.model(frames, prefix_lens).shape
    """
    import tempfile

    from uniaudio.generate.loading import load_model as _load

    return _load(uri, work_dir or tempfile.mkdtemp(prefix="uniaudio-model-"), device=device, tracking_uri=tracking_uri)


__all__ = ["__version__", "load_model"]
