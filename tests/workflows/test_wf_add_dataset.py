"""``workflows/add_dataset.yaml``: a new corpus is tokenized, turned into examples and fine-tunes an
existing exported model (``train_lm`` with an ``init`` input -> ``TrainConfig.init_from``).

Fast: the fine-tune step's key follows the base model's *weights* (their sha256), not its path.
Slow: the whole DAG for real (tiny codec, a tiny exported base model, a 6-clip sound-effect corpus).
"""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch

from uniaudio.model import build_model, get_preset
from uniaudio.stores.exported import write_export
from workflows.dag import parse_workflow
from workflows.runner import run_workflow
from workflows.state import RunStore
from workflows.step import StepResult

ROOT = Path(__file__).resolve().parents[2]


def export_base(d: Path, seed: int, lineage: dict | None = None) -> Path:
    torch.manual_seed(seed)
    cfg = get_preset("tiny")
    write_export(d, build_model(cfg).state_dict(), cfg, lineage or {})
    return d


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def examples_stub(ctx) -> StepResult:
    """An ``examples`` output naming a store that does not exist: the fine-tune fails fast (before Ray
    Train starts), after the runner has keyed it."""
    return StepResult(outputs={"examples": {"uri": str(Path(ctx.work_dir) / "no_store"), "version": 0}})


def finetune_key(run_dir: Path, base: Path) -> tuple[str, str]:
    wf = parse_workflow({"name": "ft", "steps": {
        "base": {"kind": "model_checkpoint", "config": {"path": str(base)}},
        "examples": {"kind": "tests.workflows.test_wf_add_dataset:examples_stub", "outputs": ["examples"]},
        "finetune": {"kind": "train_lm", "inputs": {"examples": "examples.examples", "init": "base.model"},
                     "config": {"steps": 2}},
    }})
    report = run_workflow(wf, run_dir, mlflow=False, log=lambda m: None)
    assert "no example store" in report.failed["finetune"]  # failed where intended, after keying
    store = RunStore(run_dir)
    return store.load_step("base").key, store.load_step("finetune").key


def test_finetune_key_follows_the_base_weights(ray_session, tmp_path):
    a = export_base(tmp_path / "a", seed=0)
    a_copy = tmp_path / "a_copy"
    shutil.copytree(a, a_copy)
    b = export_base(tmp_path / "b", seed=1)
    base_a, ft_a = finetune_key(tmp_path / "run", a)
    base_copy, ft_copy = finetune_key(tmp_path / "run", a_copy)
    _, ft_b = finetune_key(tmp_path / "run", b)
    assert base_a != base_copy  # the base step's own config (its path) changed ...
    assert ft_copy == ft_a  # ... but the fine-tune hashes the weights' identity: same weights, same key
    assert ft_b != ft_a  # other weights: the fine-tune runs again


# --- the DAG end to end (slow) ---------------------------------------------------------------------------

def tiny_codec(d: Path) -> str:
    """The tiny codec preset, seeded, codebooks k-means-initialised by one training-mode forward on
    noise (no training): codes depend on the audio, which is all tokenization and generation need."""
    from codec.config import preset
    from codec.export import export_codec
    from codec.model import CodecModel

    torch.manual_seed(0)
    cfg = preset("tiny")
    model = CodecModel(cfg).train()
    with torch.no_grad():
        model(0.1 * torch.randn(6, 1, 16000), n_q=cfg.quantizer.n_q)
    return str(export_codec(model, cfg, d))


def sfx_corpus(d: Path, n: int = 6) -> Path:
    """``n`` packaged desktop sounds (16 kHz, <= 1.5 s) captioned by name, as a ``captions`` dataset."""
    import soundfile as sf
    import soxr

    srcs = sorted(Path("/usr/share/sounds/freedesktop/stereo").glob("*.oga"))[:n]
    assert len(srcs) == n, "sound-theme-freedesktop missing (requirements/apt.txt)"
    rows = ["audio,caption"]
    for p in srcs:
        x, sr = sf.read(str(p), always_2d=True)
        y = soxr.resample(x.mean(axis=1), sr, 16000)[: 24000]
        sf.write(str(d / f"{p.stem}.wav"), y, 16000)
        rows.append(f"{p.stem}.wav,a desktop sound: {p.stem.replace('-', ' ')}")
    (d / "captions.csv").write_text("\n".join(rows) + "\n")
    spec = d.parent / "new_datasets.yaml"
    spec.write_text(f"datasets:\n  - name: new_sfx\n    reader: captions\n    root: {d}\n    tasks: [text_to_sound]\n")
    return spec


@pytest.mark.slow
@pytest.mark.integration
def test_add_dataset_finetunes_the_base_model_end_to_end(ray_session, tmp_path, capsys):
    from uniaudio.cli import main

    (tmp_path / "corpus").mkdir()
    spec = sfx_corpus(tmp_path / "corpus")
    codec = tiny_codec(tmp_path / "codec")
    base = export_base(tmp_path / "base_model", seed=0, lineage={"run_id": "the-base-run", "steps": 123})
    run = tmp_path / "run"
    args = ["workflow", "run", str(ROOT / "workflows" / "add_dataset.yaml"), "--run-dir", str(run),
            "--set", f"vars.spec={spec}", "--set", "vars.datasets=[new_sfx]", "--set", f"vars.tokens={tmp_path / 'tokens'}",
            "--set", f"vars.codec={codec}", "--set", f"vars.base_model={base}", "--set", "vars.steps=4",
            "--set", "steps.finetune.config.set=[optim.warmup_steps=2, loader.max_frames_per_batch=512]",
            "--set", "steps.generate.config.set=[lengths.max_seconds=1.5]"]
    rc = main(args)
    out = capsys.readouterr().out
    assert rc == 0, out[-5000:]
    assert "MLflow rejected" not in out  # the base's and the fine-tune's links do not collide in the parent run

    store = RunStore(run)
    ft = store.load_step("finetune")
    assert ft.status == "done"
    model = Path(ft.outputs["model"])
    lineage = json.loads((model / "lineage.json").read_text())
    want = sha256(base / "model.safetensors")
    assert lineage["init_from"]["sha256"] == want and lineage["init_from"]["path"] == str(base.resolve())
    assert lineage["init_from"]["base_run_id"] == "the-base-run"
    assert lineage["codec_dir"] == codec  # generation found the codec through the lineage
    assert ft.links["model.init_from_sha256"] == want
    log = (run / "logs" / "finetune.log").read_text()
    assert f"init_from {base}: weights sha256 {want[:16]}" in log
    assert sha256(model / "model.safetensors") != want  # it trained
    for step in ("generate", "evaluate"):
        assert store.load_step(step).status == "done", step

    assert main(args) == 0  # nothing changed: every step is skipped
    assert "ran 0," in capsys.readouterr().out
