"""Reading weight files that came from outside this process without ever running code from them.

Every file format the project reads weights from goes through here:

* ``*.safetensors`` (exported models, codec checkpoints, init-from): :func:`read_safetensors`, which
  turns a corrupt or truncated file into one :class:`~uniaudio.errors.UserFacingError` line naming it;
* DeepSpeed ZeRO checkpoint folders (a ``latest`` tag + ``<tag>/*_states.pt``): :func:`consolidate_zero`.
  DeepSpeed's own ``get_fp32_state_dict_from_zero_checkpoint`` (and ``engine.load_checkpoint``) call
  ``torch.load(weights_only=False)``, i.e. plain unpickling: a crafted shard would run code. We first
  scan every shard's pickle for the globals it references (nothing is executed by the scan) and refuse
  a shard that names anything outside :data:`DEEPSPEED_GLOBALS`; then DeepSpeed runs inside
  :func:`weights_only_loads`, which forces every ``torch.load`` to ``weights_only=True``
  (``TORCH_FORCE_WEIGHTS_ONLY_LOAD``) with only those classes allowed.

The allow-list is what DeepSpeed 0.19 stores in ZeRO 1/2/3 optimizer shards (found with
``torch.serialization.get_unsafe_globals_in_checkpoint`` on real checkpoints): plain data classes and
an int enum, no ``__reduce__`` / ``__setstate__`` of their own.

>>> import tempfile, os
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "model.safetensors")
>>> _ = open(p, "wb").write(b"not a safetensors file")
>>> read_safetensors(p)
Traceback (most recent call last):
...
uniaudio.errors.UserFacingError: ... cannot read model.safetensors: corrupt or truncated (...)
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Iterator

from uniaudio.errors import UserFacingError

#: ``module.qualname`` of every non-tensor class DeepSpeed pickles into its checkpoint shards.
DEEPSPEED_GLOBALS = (
    "deepspeed.runtime.zero.config.ZeroStageEnum",
    "deepspeed.runtime.fp16.loss_scaler.LossScaler",
    "deepspeed.runtime.fp16.loss_scaler.DynamicLossScaler",
    "deepspeed.utils.tensor_fragment.fragment_address",
)
_TAG = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0][:200] if text else type(err).__name__)


def read_safetensors(path: str | Path, device: str = "cpu") -> dict:
    """``load_file`` with every failure (missing, truncated, bad header, not safetensors) as one line."""
    from safetensors.torch import load_file

    p = Path(path)
    if not p.is_file():
        raise UserFacingError(f"{p}: no such file")
    try:
        return load_file(str(p), device=device)
    except Exception as err:  # noqa: BLE001 - SafetensorError / OSError / ValueError / RuntimeError
        raise UserFacingError(f"{p.parent}: cannot read {p.name}: corrupt or truncated ({_one_line(err)})") from None


def _classes() -> list:
    import importlib

    out = []
    for name in DEEPSPEED_GLOBALS:
        mod, _, attr = name.rpartition(".")
        try:
            out.append((getattr(importlib.import_module(mod), attr), name))
        except (ImportError, AttributeError):  # another DeepSpeed version: the scan still refuses it
            continue
    return out


@contextlib.contextmanager
def weights_only_loads() -> Iterator[None]:
    """Inside: every ``torch.load`` (also those passing ``weights_only=False``) is weights-only, with
    the DeepSpeed allow-list. Used around DeepSpeed's consolidation and ``engine.load_checkpoint``."""
    import torch

    saved = {k: os.environ.get(k) for k in ("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")}
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
    os.environ.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    try:
        with torch.serialization.safe_globals(_classes()):
            yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def check_pickle_globals(path: str | Path) -> None:
    """Refuse a ``torch.save`` file that references any global outside :data:`DEEPSPEED_GLOBALS`
    (nothing in it is executed: only the pickle's opcodes are read)."""
    import torch

    p = Path(path)
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(p))
    except Exception as err:  # noqa: BLE001 - not a zip / truncated / bad pickle
        raise UserFacingError(f"{p}: corrupt or truncated checkpoint file ({_one_line(err)})") from None
    bad = sorted(set(names) - set(DEEPSPEED_GLOBALS))
    if bad:
        raise UserFacingError(f"{p}: refused: it references Python objects outside the weights-only allow-list "
                              f"({', '.join(bad[:3])}); checkpoints are never unpickled")


def checkpoint_tag(checkpoint_dir: str | Path, tag: str | None = None) -> str:
    """The tag (``latest`` file unless given): a plain folder name inside the checkpoint directory."""
    d = Path(checkpoint_dir)
    if tag is None:
        latest = d / "latest"
        if not latest.is_file():
            raise UserFacingError(f"{d}: not a DeepSpeed checkpoint (no 'latest' file)")
        try:
            tag = latest.read_text(encoding="utf-8", errors="strict").strip()
        except (OSError, UnicodeDecodeError) as err:
            raise UserFacingError(f"{latest}: unreadable ({_one_line(err)})") from None
    if not _TAG.match(tag) or tag in (".", ".."):
        raise UserFacingError(f"{d / 'latest'}: tag {tag[:60]!r} is not a plain folder name")
    if not (d / tag).is_dir():
        raise UserFacingError(f"{d}: the checkpoint tag {tag!r} has no folder {d / tag}")
    return tag


def consolidate_zero(checkpoint_dir: str | Path, tag: str | None = None) -> dict:
    """fp32 state dict of a ZeRO checkpoint folder (every rank's shard), loaded weights-only."""
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    d = Path(checkpoint_dir)
    tag = checkpoint_tag(d, tag)
    shards = sorted((d / tag).glob("*.pt"))
    if not shards:
        raise UserFacingError(f"{d / tag}: no DeepSpeed shard files (*_states.pt)")
    for shard in shards:
        check_pickle_globals(shard)
    try:
        with weights_only_loads():
            sd = get_fp32_state_dict_from_zero_checkpoint(str(d), tag=tag)
    except UserFacingError:
        raise
    except Exception as err:  # noqa: BLE001 - a shard that is consistent-looking but wrong
        raise UserFacingError(f"{d / tag}: cannot consolidate the ZeRO checkpoint ({type(err).__name__}: "
                              f"{_one_line(err)})") from None
    return {k: v.contiguous() for k, v in sd.items()}
