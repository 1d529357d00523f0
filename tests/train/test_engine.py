"""DeepSpeed engine in-process (one rank, gloo): ZeRO stages, loss falls, non-finite steps are skipped."""

import os

import pytest
import torch

os.environ.setdefault("DS_ACCELERATOR", "cpu")

from single_rank import single_rank_process_group  # noqa: E402
from tests.train.helpers import make_example_store  # noqa: E402
from uniaudio.data.loader import BatchLoader, StoreSnapshot  # noqa: E402
from uniaudio.model import OutputRules, build_model  # noqa: E402
from uniaudio.train.config import train_config  # noqa: E402
from uniaudio.train.engine import initialize  # noqa: E402
from uniaudio.train.step import State, eval_step, train_step  # noqa: E402
from uniaudio.vocab import load_vocab  # noqa: E402

V = load_vocab()


@pytest.fixture(scope="module", autouse=True)
def process_group():
    with single_rank_process_group():
        yield


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    return StoreSnapshot.open(make_example_store(str(tmp_path_factory.mktemp("ex") / "examples"), n=32))


def setup(snapshot, zero, steps=20, **over):
    overrides = [f"zero_stage={zero}", f"steps={steps}", "optim.lr=3e-3", "optim.warmup_steps=3",
                 "loader.reader=arrow", "loader.max_frames_per_batch=256"] + [f"{k}={v}" for k, v in over.items()]
    cfg = train_config("tiny", overrides=overrides)
    torch.manual_seed(0)
    model = build_model(cfg.model)
    engine, sched, guard, precision = initialize(model, cfg, torch.device("cpu"), world=1)
    loader = iter(BatchLoader(snapshot, cfg.loader, vocab=V, cont_dim=cfg.model.cont_dim))
    return cfg, engine, guard, loader, OutputRules(V, cfg.model.n_q)


@pytest.mark.parametrize("zero", [1, 2, 3])
def test_zero_stage_trains(snapshot, zero):
    cfg, engine, guard, loader, rules = setup(snapshot, zero, steps=12)
    ms = [train_step(engine, [next(loader)], rules, guard, torch.device("cpu"), tasks=["se", "text_to_sound"])
          for _ in range(12)]
    losses = [m["loss"] for m in ms]
    assert any("loss_by_task/se" in m for m in ms) and any("acc_by_task/text_to_sound" in m for m in ms)
    assert all(map(lambda x: x == x, losses))
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.5, losses
    val = eval_step(engine, [next(loader)], rules, torch.device("cpu"), ["se", "text_to_sound"])
    assert "val/all/loss" in val and ("val_loss_by_task/se" in val or "val_loss_by_task/text_to_sound" in val)


def weights(engine):
    """This rank's copy of every parameter (ZeRO-3 keeps only a partition, in ``ds_tensor``)."""
    return {n: getattr(p, "ds_tensor", p).detach().clone() for n, p in engine.module.named_parameters()}


@pytest.mark.parametrize("zero", [2, 3])
def test_non_finite_gradient_skips_the_step(snapshot, zero):
    cfg, engine, guard, loader, rules = setup(snapshot, zero, steps=5)
    train_step(engine, [next(loader)], rules, guard, torch.device("cpu"))  # one normal step
    before = weights(engine)
    opt_steps = engine.global_steps
    p = next(p for p in engine.module.parameters() if p.requires_grad)
    handle = p.register_hook(lambda g: g * float("nan"))
    m = train_step(engine, [next(loader)], rules, guard, torch.device("cpu"))
    handle.remove()
    assert m["step_applied"] == 0.0
    after = weights(engine)
    for n in before:
        assert torch.equal(before[n], after[n]), f"{n} changed on a skipped step"
    m = train_step(engine, [next(loader)], rules, guard, torch.device("cpu"))
    assert m["step_applied"] == 1.0 and m["loss"] == m["loss"]
    assert any(not torch.equal(after[n], w) for n, w in weights(engine).items()), "a normal step must update"
    assert engine.global_steps >= opt_steps


def test_no_weight_decay_on_norms_biases_embeddings(snapshot):
    from uniaudio.train.optim import param_groups

    model = build_model(train_config("tiny").model)
    decay, no_decay = param_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(p.ndim == 2 for p in decay["params"])
    nd = {names[id(p)] for p in no_decay["params"]}
    assert any("emb" in n for n in nd) and any("bias" in n for n in nd)
    assert not any("emb" in names[id(p)] for p in decay["params"])
