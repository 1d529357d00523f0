"""The published ``MegaByteModel`` state dict -> this project's :class:`~uniaudio.model.MultiScaleLM` one.

Published names (after stripping ``module.``, which DDP adds) and where they go here:

==================================================  ==========================================
``g_emb`` [V, d/n_q] / ``l_emb`` [V, d] / ``lm_head``  ``frame_emb`` / ``local_emb`` / ``head`` (rows permuted)
``g_pos`` [block_size, d], ``l_pos`` [n_q, d]        ``pos_emb``, ``local_pos``
``{g,l}_layers.i.attn.{query,key,value}``            ``{global,local}_stack.blocks.i.attn.qkv`` (fused;
                                                     the key has no bias: ``qkv.q_bias`` / ``qkv.v_bias``)
``...attn.out``, ``attn_ln``, ``mlp.0``, ``mlp.2``, ``mlp_ln``  ``attn.proj``, ``ln_attn``, ``mlp.fc``, ``mlp.proj``, ``ln_mlp``
``g_ln`` / ``l_ln``                                  ``global_stack.ln_f`` / ``local_stack.ln_f``
``g2l_linear`` [d -> d/n_q chunks]                   ``g2l``
``continuous_mappings.text_t5`` [768 -> d]           ``cont_proj``
==================================================  ==========================================

Every published tensor must be consumed and every one expected must be present with its expected shape;
anything else is one :class:`UserFacingError` naming the tensor (never a torch traceback mid-copy).
"""

from __future__ import annotations

import re
from typing import Mapping

import torch
from torch import Tensor

from uniaudio.errors import UserFacingError

VOCAB_ROWS = {"g_emb.weight": "frame_emb.weight", "l_emb.weight": "local_emb.weight", "lm_head.weight": "head.weight"}
PLAIN = {"g_pos.weight": "pos_emb.weight", "l_pos.weight": "local_pos", "g_ln.weight": "global_stack.ln_f.weight",
         "g_ln.bias": "global_stack.ln_f.bias", "l_ln.weight": "local_stack.ln_f.weight",
         "l_ln.bias": "local_stack.ln_f.bias", "g2l_linear.weight": "g2l.weight", "g2l_linear.bias": "g2l.bias",
         "continuous_mappings.text_t5.weight": "cont_proj.weight", "continuous_mappings.text_t5.bias": "cont_proj.bias"}
BLOCK = {"attn.out.weight": "attn.proj.weight", "attn.out.bias": "attn.proj.bias",
         "attn_ln.weight": "ln_attn.weight", "attn_ln.bias": "ln_attn.bias", "mlp.0.weight": "mlp.fc.weight",
         "mlp.0.bias": "mlp.fc.bias", "mlp.2.weight": "mlp.proj.weight", "mlp.2.bias": "mlp.proj.bias",
         "mlp_ln.weight": "ln_mlp.weight", "mlp_ln.bias": "ln_mlp.bias", "attn.query.bias": "attn.qkv.q_bias",
         "attn.value.bias": "attn.qkv.v_bias"}
QKV = ("attn.query.weight", "attn.key.weight", "attn.value.weight")
STACKS = {"g_layers": "global_stack", "l_layers": "local_stack"}
_LAYER = re.compile(r"^([gl]_layers)\.(\d+)\.")


def strip_module(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Drop the ``module.`` prefix DDP / DeepSpeed wrappers put on every key (all keys or none)."""
    keys = list(state)
    if keys and all(k.startswith("module.") for k in keys):
        return {k[len("module."):]: v for k, v in state.items()}
    return dict(state)


def count_layers(state: Mapping[str, Tensor], stack: str) -> int:
    """Number of blocks of ``g_layers`` / ``l_layers`` in a published state dict."""
    idx = {int(m.group(2)) for k in state if (m := _LAYER.match(k)) and m.group(1) == stack}
    return max(idx) + 1 if idx else 0


def _published_names(n_global: int, n_local: int) -> list[str]:
    names = [*VOCAB_ROWS, *PLAIN]
    for stack, n in (("g_layers", n_global), ("l_layers", n_local)):
        names += [f"{stack}.{i}.{k}" for i in range(n) for k in (*QKV, *BLOCK)]
    return names


def _check(state: Mapping[str, Tensor], target: Mapping[str, Tensor], n_global: int, n_local: int,
           vocab_rows: int) -> None:
    expected = _published_names(n_global, n_local)
    missing = [n for n in expected if n not in state]
    if missing:
        raise UserFacingError(f"published state dict: tensor {missing[0]} is missing"
                              + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    extra = sorted(set(state) - set(expected))
    if extra:
        raise UserFacingError(f"published state dict: unexpected tensor {extra[0]} (not part of the published "
                              f"layout with {n_global} global / {n_local} local layers)")
    for name in expected:
        want = _expected_shape(name, target, vocab_rows)
        if tuple(state[name].shape) != want:
            raise UserFacingError(f"published state dict: tensor {name} has shape {tuple(state[name].shape)}, "
                                  f"expected {want}")


def _here(name: str) -> str:
    if name in VOCAB_ROWS:
        return VOCAB_ROWS[name]
    if name in PLAIN:
        return PLAIN[name]
    m = _LAYER.match(name)
    rest = name[m.end():]
    return f"{STACKS[m.group(1)]}.blocks.{m.group(2)}.{BLOCK.get(rest, 'attn.qkv.weight')}"


def _expected_shape(name: str, target: Mapping[str, Tensor], vocab_rows: int) -> tuple[int, ...]:
    shape = tuple(target[_here(name)].shape)
    if name in VOCAB_ROWS:
        return (vocab_rows, *shape[1:])
    if name.endswith(QKV):
        return (shape[0] // 3, shape[1])
    return shape


def map_state_dict(state: Mapping[str, Tensor], target: Mapping[str, Tensor], id_map: Mapping[int, int],
                   n_global: int, n_local: int, vocab_rows: int) -> dict[str, Tensor]:
    """The published ``state`` (``module.`` already stripped) written over ``target`` (a freshly
    initialised model's state dict: rows of ids without a published source keep their values).
    ``id_map`` sends published vocabulary rows to rows here."""
    _check(state, target, n_global, n_local, vocab_rows)
    out = {k: v.detach().clone() for k, v in target.items()}
    src = torch.tensor(list(id_map.keys()), dtype=torch.long)
    dst = torch.tensor(list(id_map.values()), dtype=torch.long)
    for pub, here in VOCAB_ROWS.items():
        out[here][dst] = state[pub].to(out[here].dtype)[src]
    for pub, here in PLAIN.items():
        out[here] = state[pub].to(out[here].dtype).clone()
    for stack, n in (("g_layers", n_global), ("l_layers", n_local)):
        for i in range(n):
            pre, base = f"{stack}.{i}.", f"{STACKS[stack]}.blocks.{i}."
            out[base + "attn.qkv.weight"] = torch.cat([state[pre + k] for k in QKV]).to(torch.float32)
            for k, v in BLOCK.items():
                out[base + v] = state[pre + k].to(torch.float32).clone()
    return out
