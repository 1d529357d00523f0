"""The full plan uses the paper's conditioners (T5 text embedding, HuBERT layer-9 k-means-500 units) and
fails at DAG validation, before any compute, naming the missing local weights and how to get them; with
(tiny random) local folders it validates. The demo keeps the offline substitutes."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.workflows.tiny_weights import tiny_hubert_dir, tiny_t5_dir
from workflows.dag import DagError, load_workflow
from workflows.kinds.weights import weights_problem

ROOT = Path(__file__).resolve().parents[2]
FULL = ROOT / "workflows" / "full.yaml"


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    return tiny_t5_dir(root / "t5"), tiny_hubert_dir(root / "hubert")


def test_without_weights_validation_names_them_and_how_to_get_them(tmp_path):
    with pytest.raises(DagError) as err:
        load_workflow(FULL, overrides=[f"vars.hubert_dir={tmp_path / 'nope'}"])
    msg = str(err.value)
    assert "steps.semantic.config" in msg and "HuBERT" in msg and str(tmp_path / "nope") in msg
    assert "uniaudio import-reference semantic" in msg and "vars.hubert_dir" in msg
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / "config.json").write_text(json.dumps({"model_type": "hubert"}))
    (tmp_path / "hub" / "model.safetensors").write_bytes(b"")
    with pytest.raises(DagError) as err:  # HuBERT there: now the T5 folder is what is missing
        load_workflow(FULL, overrides=[f"vars.hubert_dir={tmp_path / 'hub'}", f"vars.t5_dir={tmp_path / 'no_t5'}"])
    msg = str(err.value)
    assert "steps.tokenize.config" in msg and "google/t5-v1_1-base" in msg and "vars.t5_dir" in msg


def test_wrong_folders_are_named_precisely(tmp_path, weights):
    t5, hub = weights
    assert weights_problem("t5", t5) is None and weights_problem("hubert", hub) is None
    assert "holds a 'hubert' model, not 't5'" in weights_problem("t5", hub)
    (tmp_path / "cfg_only").mkdir()
    (tmp_path / "cfg_only" / "config.json").write_text(json.dumps({"model_type": "t5"}))
    assert "has no model.safetensors or pytorch_model.bin" in weights_problem("t5", str(tmp_path / "cfg_only"))
    assert "no readable config.json" in weights_problem("hubert", str(tmp_path))


def test_with_local_weights_the_full_plan_validates_with_the_papers_conditioners(weights):
    t5, hub = weights
    wf = load_workflow(FULL, overrides=[f"vars.t5_dir={t5}", f"vars.hubert_dir={hub}"])
    sem = wf.steps["semantic"].config
    assert sem["k"] == 500 and sem["features"] == {"kind": "hubert", "hubert_layer": 9} and sem["hubert_dir"] == hub
    tok = wf.steps["tokenize[libritts]"].config["set"]
    assert "tokenizers.text_emb.model=t5" in tok and f"tokenizers.text_emb.t5_dir={t5}" in tok
    assert f"tokenizers.semantic.hubert_dir={hub}" in tok
    assert "model.cont_dim=768" in wf.steps["lm"].config["set"]  # T5-base width
    assert {"tokenize[aishell3]", "tokenize[opencpop]", "tokenize[m4singer]"} <= set(wf.steps)
    from uniaudio.tokenizers import TextEmbConfig, TextEmbeddingTokenizer

    states = TextEmbeddingTokenizer(TextEmbConfig(model="t5", t5_dir=t5)).tokenize("add the sound of rain")
    assert states.shape == (6, 768) and np.isfinite(states.astype(np.float32)).all()  # a real T5 folder
    out = subprocess.run([sys.executable, "-m", "uniaudio", "workflow", "run", str(FULL), "--dry-run",
                          "--set", f"vars.t5_dir={t5}", "--set", f"vars.hubert_dir={hub}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert "train_lm" in out.stdout


def test_demo_keeps_the_offline_substitutes():
    wf = load_workflow(ROOT / "workflows" / "demo.yaml")
    sets = [x for st in wf.steps.values() for x in st.config.get("set", [])]
    assert not any("text_emb.model=t5" in x for x in sets)
    assert all((st.config.get("features") or {}).get("kind") != "hubert" for st in wf.steps.values())
