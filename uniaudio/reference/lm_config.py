"""A published LM experiment dir's ``config.yaml`` (its training arguments) -> this project's ModelConfig.

The published ``MegaByteModel`` has one fixed layout, which :class:`~uniaudio.model.ModelConfig` states
with options (../shared/UNIAUDIO.md §4.1): frames embedded by concatenating ``n_q`` d/n_q-wide token
embeddings, a per-chunk global-to-local link, learned global positions of ``block_size`` frames, prefix-LM
or causal attention (``prefix_lm``), no key bias, ``min(8, n_layer // 2)`` local layers of the global width
and head count, GELU MLPs of 4d, no dropout, and a 768 -> d map for the T5 frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from uniaudio.errors import UserFacingError


def read_args(path: Path) -> dict[str, Any]:
    """``config.yaml`` as a dict, with a ``token_list`` of names; anything else is one line naming it."""
    import yaml

    if not path.is_file():
        raise UserFacingError(f"{path}: no such file (a published LM experiment dir holds config.yaml)")
    try:
        args = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise UserFacingError(f"{path}: not valid YAML ({str(err).splitlines()[0][:200]})") from None
    if not isinstance(args, dict):
        raise UserFacingError(f"{path}: expected the training arguments (a mapping), got {type(args).__name__}")
    tokens = args.get("token_list")
    if not isinstance(tokens, list) or not tokens:
        raise UserFacingError(f"{path}: no token_list (the published config.yaml lists every token id by name; "
                              f"without it the ids cannot be translated)")
    return args


def _int(args: Mapping[str, Any], key: str, default: int | None, where: Path) -> int:
    value = args.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserFacingError(f"{where}: {key} must be an integer, got {value!r}")
    return value


def model_config(args: Mapping[str, Any], n_local: int, cont_dim: int, where: Path):
    """The ModelConfig of the published layout for these training arguments (``n_local``: local blocks in
    the checkpoint, checked against the published rule; ``cont_dim``: width of its T5 map)."""
    from uniaudio.model import ModelConfig

    for flag in ("megabytes", "whisper_model"):
        if args.get(flag, True) is False:
            raise UserFacingError(f"{where}: {flag}: false names a model class other than the published "
                                  f"MegaByteModel; only that layout can be imported")
    n_layer, n_head = _int(args, "n_layer", None, where), _int(args, "n_head", None, where)
    want_local = min(8, n_layer // 2)
    if n_local != want_local:
        raise UserFacingError(f"{where}: the checkpoint has {n_local} local layers but n_layer={n_layer} means "
                              f"min(8, n_layer // 2) = {want_local}")
    try:
        return ModelConfig(
            n_q=_int(args, "non_acoustic_repeat", 3, where), d_model=_int(args, "n_embd", None, where),
            n_layer=n_layer, n_head=n_head, n_local_layer=n_local, n_local_head=0, mlp_ratio=4, bias=True,
            key_bias=False, dropout=0.0, attn_dropout=0.0, frame_embedding="concat", global_to_local="chunk",
            positions="learned", max_frames=_int(args, "block_size", None, where),
            attention="prefix_lm" if args.get("prefix_lm") else "causal", cont_dim=cont_dim,
        )
    except ValueError as err:  # pydantic: shapes this project cannot express
        raise UserFacingError(f"{where}: the training arguments give no valid model config "
                              f"({' '.join(str(err).split())[:300]})") from None
