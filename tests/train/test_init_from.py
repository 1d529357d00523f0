"""Fine-tuning (``TrainConfig.init_from``): config resolution, validation errors, exact weight loading.

The fast tests need no Ray. The Ray Train runs at the end (a fine-tune starts from a lower loss than
from scratch; lineage and MLflow record the base; a restored checkpoint takes precedence over
init_from) are marked slow.
"""

import hashlib
import json
import os
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

os.environ.setdefault("DS_ACCELERATOR", "cpu")

from uniaudio.cli import main  # noqa: E402
from uniaudio.config import ConfigError  # noqa: E402
from uniaudio.errors import UserFacingError, VocabMismatchError  # noqa: E402
from uniaudio.model import build_model, get_preset  # noqa: E402
from uniaudio.train.config import TrainConfig, train_config  # noqa: E402
from uniaudio.stores.exported import write_export  # noqa: E402
from uniaudio.train.init_from import load_into, prepare_init  # noqa: E402

# The base differs from the tiny preset in one architecture field, so "architecture from the export"
# is observable (a preset-built model would not even load these weights).
BASE_CFG = get_preset("tiny").model_copy(update={"n_local_layer": 2})


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    torch.manual_seed(1)
    model = build_model(BASE_CFG)
    d = tmp_path_factory.mktemp("base") / "model"
    write_export(d, {k: v.contiguous() for k, v in model.state_dict().items()}, BASE_CFG,
                 {"run_id": "base-run", "steps": 7})
    return d


def copy_of(base, tmp_path):
    d = tmp_path / "copy"
    shutil.copytree(base, d)
    return d


def test_architecture_comes_from_the_export_not_the_preset(base):
    cfg = train_config("small", overrides=[f"init_from={base}", "model.dropout=0.1", "model.d_model=64"])
    assert cfg.preset == "small" and cfg.init_from == str(base)
    assert cfg.model.n_local_layer == 2 and cfg.model.d_model == 64  # the export's, not small's 256
    assert cfg.model.dropout == 0.1  # regularisation may differ from the base
    assert cfg.model.model_copy(update={"dropout": 0.0}) == BASE_CFG


def test_contradicting_model_override_names_the_field(base, tmp_path):
    with pytest.raises(ConfigError, match=r"model\.d_model: 128 contradicts init_from") as e:
        train_config("tiny", overrides=[f"init_from={base}", "model.d_model=128"])
    assert "\n" not in str(e.value)
    yml = tmp_path / "c.yaml"
    yml.write_text(f"init_from: {base}\nmodel: {{n_head: 2}}\n")
    with pytest.raises(ConfigError, match=r"model\.n_head: 2 contradicts"):
        train_config("tiny", str(yml))
    with pytest.raises(ConfigError, match="init_from: .* is not a directory"):
        train_config("tiny", overrides=[f"init_from={tmp_path / 'nope'}"])


def test_programmatic_config_with_another_architecture_is_refused(base, tmp_path):
    cfg = TrainConfig(init_from=str(base))  # the tiny preset's model: n_local_layer 1 != the export's 2
    with pytest.raises(ConfigError, match=r"model\.n_local_layer=1 \(export: 2\)"):
        prepare_init(cfg, tmp_path)


def test_loaded_weights_equal_the_export_exactly(base, tmp_path):
    cfg = train_config("tiny", overrides=[f"init_from={base}"])
    init = prepare_init(cfg, tmp_path)
    assert init.sha256 == hashlib.sha256((base / "model.safetensors").read_bytes()).hexdigest()
    lin = init.lineage()
    assert lin["sha256"] == init.sha256 and lin["path"] == str(base.resolve())
    assert lin["base_run_id"] == "base-run" and lin["base_steps"] == 7
    torch.manual_seed(123)
    model = build_model(cfg.model)
    exported = load_file(str(base / "model.safetensors"))
    assert any(not torch.equal(v, exported[k]) for k, v in model.state_dict().items())
    load_into(model, init.state_dict)
    sd = model.state_dict()
    assert sd.keys() == exported.keys()
    for k in sd:
        assert torch.equal(sd[k], exported[k]), k


def test_mlflow_runs_uri_is_resolved_like_generation_does(base, tmp_path):
    """``runs:/<id>/model`` (what the training driver logs) is downloaded and checked like a directory."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    exp = client.create_experiment("base", artifact_location=str(tmp_path / "artifacts"))
    run = client.create_run(exp)
    for f in sorted(base.iterdir()):
        client.log_artifact(run.info.run_id, str(f), artifact_path="model")
    client.set_terminated(run.info.run_id)
    ref = f"runs:/{run.info.run_id}/model"
    cfg = train_config("tiny", overrides=[f"init_from={ref}"], tracking_uri=uri)
    assert cfg.model == BASE_CFG
    init = prepare_init(cfg, tmp_path / "work", tracking_uri=uri)
    assert init.uri == ref and init.directory.is_relative_to(tmp_path / "work")
    assert init.sha256 == hashlib.sha256((base / "model.safetensors").read_bytes()).hexdigest()
    with pytest.raises(UserFacingError, match="cannot download runs:/nope/model"):
        train_config("tiny", overrides=["init_from=runs:/nope/model"], tracking_uri=uri)


def test_zero3_partitions_the_loaded_weights(base, tmp_path):
    """What every rank does: load into the full module, then deepspeed.initialize (ZeRO-3 partitions it).
    Gathered back before any step, every parameter is the export's; the LR schedule starts at warm-up."""
    import deepspeed

    from single_rank import single_rank_process_group
    from uniaudio.train.engine import initialize

    cfg = train_config("tiny", overrides=[f"init_from={base}", "zero_stage=3", "optim.warmup_steps=10", "steps=5"])
    init = prepare_init(cfg, tmp_path)
    exported = load_file(str(base / "model.safetensors"))
    with single_rank_process_group():
        torch.manual_seed(5)
        model = build_model(cfg.model)
        load_into(model, init.state_dict)
        engine, sched, _, _ = initialize(model, cfg, torch.device("cpu"), world=1)
        assert engine.global_steps == 0
        assert sched.get_last_lr()[0] < cfg.optim.lr / 5  # fresh warm-up, not the base run's late LR
        params = dict(engine.module.named_parameters())
        assert all(getattr(p, "ds_tensor", None) is not None for p in params.values())  # partitioned
        with deepspeed.zero.GatheredParameters(list(params.values())):
            for name, p in params.items():
                assert torch.equal(p.detach(), exported[name]), name


def test_vocab_mismatch_is_a_clear_error(base, tmp_path):
    d = copy_of(base, tmp_path)
    doc = json.loads((d / "vocab.json").read_text())
    doc["version"] = "v0-other"
    (d / "vocab.json").write_text(json.dumps(doc))
    cfg = train_config("tiny", overrides=[f"init_from={d}"])
    with pytest.raises(VocabMismatchError, match="init_from model .* v0-other"):
        prepare_init(cfg, tmp_path)


def test_missing_corrupt_and_mismatched_weights_are_one_line_errors(base, tmp_path):
    d = copy_of(base, tmp_path)
    cfg = train_config("tiny", overrides=[f"init_from={d}"])
    w = d / "model.safetensors"
    good = w.read_bytes()

    w.write_bytes(good[: len(good) // 2])  # truncated
    with pytest.raises(UserFacingError, match="cannot read model.safetensors") as e:
        prepare_init(cfg, tmp_path)
    assert "\n" not in str(e.value)

    sd = load_file(str(base / "model.safetensors"))
    name = next(k for k, v in sd.items() if v.dim() == 2)
    sd[name] = torch.zeros(sd[name].shape[0] + 1, sd[name].shape[1])
    save_file(sd, str(w))
    with pytest.raises(UserFacingError, match=rf"1 weight shape\(s\) do not match the model config: {name}"):
        prepare_init(cfg, tmp_path)

    sd.pop(name)
    save_file(sd, str(w))
    with pytest.raises(UserFacingError, match=rf"missing \['{name}'\]"):
        prepare_init(cfg, tmp_path)

    w.unlink()
    with pytest.raises(UserFacingError, match="not an exported model: model.safetensors is missing"):
        prepare_init(cfg, tmp_path)


def test_cli_flag_and_errors(base, tmp_path, capsys):
    out = str(tmp_path / "out")
    rc = main(["train", "--examples", str(tmp_path / "ex"), "--out", out, "--init-from", str(base),
               "--set", "model.d_model=32"])
    assert rc == 2 and "model.d_model: 32 contradicts init_from" in capsys.readouterr().err
    rc = main(["train", "--examples", str(tmp_path / "ex"), "--out", out, "--init-from", str(tmp_path / "missing")])
    assert rc == 2 and "is not a directory" in capsys.readouterr().err


# --- Ray Train + DeepSpeed end to end (slow) -------------------------------------------------------------

COMMON = ["workers=1", "zero_stage=2", "optim.lr=3e-3", "optim.warmup_steps=3", "checkpoint_every=4",
          "validate_every=4", "log_every=1", "loader.max_frames_per_batch=256", "loader.reader=arrow", "max_failures=2"]


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    from tests.train.helpers import make_example_store

    return make_example_store(str(tmp_path_factory.mktemp("ex") / "examples"), n=48)


@pytest.fixture(scope="module")
def trained_base(ray_session, examples, tmp_path_factory):
    """A base model trained from scratch on the same examples (its first loss is the scratch baseline)."""
    from uniaudio.train.driver import run_training

    out = tmp_path_factory.mktemp("trained_base")
    return out, run_training(examples, str(out), train_config("tiny", overrides=COMMON + ["steps=8", "run_name=base"]))


@pytest.fixture(scope="module")
def finetuned(trained_base, examples, tmp_path_factory):
    from uniaudio.train.driver import run_training

    base_dir, _ = trained_base
    out = tmp_path_factory.mktemp("ft")
    cfg = train_config("tiny", overrides=COMMON + ["steps=8", f"init_from={base_dir}", "run_name=ft"])
    return out, run_training(examples, str(out), cfg)


def _lr_history(out, run_id):
    from mlflow.tracking import MlflowClient

    from uniaudio.tracking import resolve_tracking_uri

    client = MlflowClient(resolve_tracking_uri(out))
    return client, {m.step: m.value for m in client.get_metric_history(run_id, "train/lr")}


@pytest.mark.slow
@pytest.mark.integration
def test_finetune_starts_lower_and_records_its_base(trained_base, finetuned):
    base_dir, base = trained_base
    out, ft = finetuned
    assert ft.steps == 8  # counted from 0, not from the base's 8
    assert f"trained 8 steps from {base_dir} (sha256 " in ft.line()
    assert ft.first_loss < base.first_loss - 0.5, (ft.first_loss, base.first_loss)
    sha = hashlib.sha256((base_dir / "model.safetensors").read_bytes()).hexdigest()
    lineage = json.loads((out / "lineage.json").read_text())
    assert lineage["init_from"]["sha256"] == sha and lineage["init_from"]["path"] == str(base_dir.resolve())
    assert lineage["init_from"]["base_run_id"] == base.run_id and lineage["init_from"]["base_steps"] == 8
    client, ft_lr = _lr_history(out, ft.run_id)
    params = client.get_run(ft.run_id).data.params
    assert params["init_from"] == str(base_dir) and params["init_from_sha256"] == sha
    _, base_lr = _lr_history(base_dir, base.run_id)
    assert ft_lr == base_lr  # a fresh schedule: the same warm-up and decay as the base run's own


@pytest.mark.slow
@pytest.mark.integration
def test_restored_checkpoint_takes_precedence_over_init_from(trained_base, finetuned, examples, tmp_path):
    """Fine-tune 4 steps from the trained base, then re-run the same run (same name and --out: Ray Train
    restores its step-4 checkpoint) to 8 steps with init_from pointing at *other* weights. The restored
    checkpoint wins: the result is exactly the uninterrupted 8-step fine-tune from the trained base, and
    the lineage names the base the weights really descend from."""
    from uniaudio.train.driver import run_training

    base_dir, _ = trained_base
    ref_out, _ = finetuned
    torch.manual_seed(2)
    other = tmp_path / "other_base"
    write_export(other, build_model(get_preset("tiny")).state_dict(), get_preset("tiny"), {})
    out = tmp_path / "out"
    first = train_config("tiny", overrides=COMMON + ["steps=4", f"init_from={base_dir}", "run_name=ft_resume"])
    assert run_training(examples, str(out), first).steps == 4
    again = train_config("tiny", overrides=COMMON + ["steps=8", f"init_from={other}", "run_name=ft_resume"])
    s = run_training(examples, str(out), again)
    assert s.steps == 8
    got, want = load_file(str(out / "model.safetensors")), load_file(str(ref_out / "model.safetensors"))
    assert got.keys() == want.keys()
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=0, atol=1e-6, msg=k)
    lineage = json.loads((out / "lineage.json").read_text())
    assert lineage["init_from"]["sha256"] == hashlib.sha256((base_dir / "model.safetensors").read_bytes()).hexdigest()
    assert "was not applied" in lineage["init_from"]["note"]
    assert lineage["init_from_configured"]["path"] == str(other.resolve())
