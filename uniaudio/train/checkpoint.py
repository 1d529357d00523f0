"""Checkpoints: each rank saves its own ZeRO shard plus its own State (loader position, RNG).

Layout of one checkpoint directory (Ray merges the per-rank directories into one)::

    latest                      DeepSpeed's pointer to the tag
    step_00000200/              DeepSpeed: model states (rank 0) + one optimizer shard per rank
    train_state_rank{r}.pt      our State + RNG of rank r (torch.save of plain tensors/lists)

Our files load with ``torch.load(weights_only=True)``; DeepSpeed's own (which it would unpickle) load
inside :func:`uniaudio.safe_load.weights_only_loads` after every shard's pickle is checked against the
allow-list, so a crafted checkpoint in a resumed ``--out`` cannot run code either.
"""

from __future__ import annotations

from pathlib import Path

import torch

from uniaudio.train.step import State, rng_state, set_rng_state


def tag_for(step: int) -> str:
    return f"step_{step:08d}"


def save(engine, directory: str | Path, state: State, rank: int) -> None:
    directory = Path(directory)
    engine.save_checkpoint(str(directory), tag=tag_for(state.step))
    torch.save({"state": state.to_dict(), "rng": rng_state()}, directory / f"train_state_rank{rank}.pt")


def load(engine, directory: str | Path, rank: int) -> State:
    directory = Path(directory)
    path = directory / f"train_state_rank{rank}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {directory} has no state for rank {rank} (world size changed?)")
    blob = torch.load(path, weights_only=True)
    state = State(**blob["state"])
    from uniaudio.safe_load import check_pickle_globals, weights_only_loads

    for shard in sorted((directory / tag_for(state.step)).glob("*.pt")):
        check_pickle_globals(shard)
    with weights_only_loads():
        load_path, _ = engine.load_checkpoint(str(directory), tag=tag_for(state.step))
    if load_path is None:
        raise RuntimeError(f"DeepSpeed found no checkpoint {tag_for(state.step)} in {directory}")
    set_rng_state(blob["rng"])
    return state


def latest_tag(directory: str | Path) -> str | None:
    p = Path(directory) / "latest"
    return p.read_text().strip() if p.is_file() else None
