"""``workflow run --run-dir s3://...`` with no ``--work-dir``: every step output is a URI in the bucket.

``${run_dir}`` becomes the URI, each step writes node-local scratch that the runner uploads to
``RUN/steps/<step>/<key>``, downstream steps read URIs, and nothing but caches is left on the node.
"""

import os
from pathlib import Path

import pytest

from conftest_s3 import s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures)
from tests.workflows.test_wf_runner import SRC, run, wf
from tests.workflows.wf_stepfns import calls
from uniaudio.stores import uri as uris
from workflows.state import RunStore

SUBST = {"c": {"kind": SRC, "outputs": ["text"], "config": {"text": "${run_dir}/tokens"}}}


def _local_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_outputs_live_in_the_bucket(s3_bucket, tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("WF_CALLS_FILE", str(tmp_path / "calls.jsonl"))
    run_dir = f"{s3_bucket}/runs/t"
    r1 = run(wf(extra=SUBST), run_dir)
    assert r1.ok and r1.ran == ["a", "b", "ua", "ub", "both", "after_ub", "c"]
    for sid, outs in r1.outputs.items():  # every output a URI under RUN/steps/<step>/<key>
        state = RunStore(run_dir).load_step(sid)
        assert outs["text"].startswith(f"{run_dir}/steps/{sid}/{state.key}/"), outs
    assert uris.read_text(r1.outputs["both"]["text"]) == "X|Y"  # read from URIs, written as a URI
    assert uris.read_text(r1.outputs["c"]["text"]) == f"{run_dir}/tokens"  # ${run_dir} is the URI itself
    names = {n for n, _ in uris.list_files(run_dir)}
    assert {"logs/a.log", "logs/both.log"} <= names
    assert _local_files(cwd) == []  # no "s3:" folder, nothing else in the working dir
    cache = Path(os.environ["UNIAUDIO_CACHE_DIR"])
    assert [f for f in _local_files(cache) if "/scratch/" in f] == []  # scratch removed after the upload

    n_calls = len(calls(run_dir))
    r2 = run(wf(extra=SUBST), run_dir)
    assert r2.ok and r2.ran == [] and len(calls(run_dir)) == n_calls

    r3 = run(wf(b_text="z", extra=SUBST), run_dir)  # only b and what depends on it
    assert r3.ok and r3.ran == ["b", "ub", "both", "after_ub"]
    assert uris.read_text(r3.outputs["both"]["text"]) == "X|Z"

    fs, path = uris.filesystem(r3.outputs["ua"]["text"])
    fs.delete_file(path)  # an output gone from the bucket: its step runs again (and only it)
    r4 = run(wf(b_text="z", extra=SUBST), run_dir)
    assert r4.ok and r4.ran == ["ua"]


def test_codec_step_reads_a_spec_in_the_bucket(s3_bucket):
    """A dataset spec in the bucket: the codec trainer gets a temporary local copy whose roots are the
    bucket URIs (so its Ray workers on any node read audio from the bucket), removed afterwards."""
    from pipelines.sources import load_dataset_spec
    from workflows.kinds.codec import _local_data

    spec = f"{s3_bucket}/run/steps/corpus/k/corpus/datasets.yaml"
    uris.put(spec, "datasets:\n- {name: sfx, reader: manifest, root: sfx, tasks: [text_to_sound]}\n")
    with _local_data(spec) as local:
        assert not uris.is_remote(local) and Path(local).is_file()
        assert [d.root for d in load_dataset_spec(local).datasets] == [f"{s3_bucket}/run/steps/corpus/k/corpus/sfx"]
    assert not Path(local).exists()
    with _local_data("/some/local/spec.yaml") as same:
        assert same == "/some/local/spec.yaml"


def test_semantic_tokenizer_reads_its_kmeans_from_the_bucket(s3_bucket, tmp_path):
    """The tokenize step's workers get the k-means model as a URI: each node fetches it (verified cache)."""
    import numpy as np

    from uniaudio.tokenizers.kmeans import KMeansModel
    from uniaudio.tokenizers.semantic import SemanticConfig, SemanticTokenizer, fit_semantic_kmeans

    rng = np.random.default_rng(0)
    wavs = [rng.standard_normal(16000).astype(np.float32) * 0.1 for _ in range(3)]
    local = tmp_path / "km.npz"
    fit_semantic_kmeans(wavs, 4, local, seed=0)
    remote = f"{s3_bucket}/steps/semantic/k/semantic_kmeans.npz"
    uris.put(remote, local.read_bytes())
    tok = SemanticTokenizer(SemanticConfig(enabled=True, kmeans_path=remote))
    ref = SemanticTokenizer(SemanticConfig(enabled=True, kmeans_path=str(local)))
    assert (tok.tokenize(wavs[0]) == ref.tokenize(wavs[0])).all()
    assert tok.model.digest == KMeansModel.load(local).digest
    from uniaudio.tokenizers.base import TokenizerUnavailable

    with pytest.raises(TokenizerUnavailable, match="does not exist"):
        SemanticTokenizer(SemanticConfig(enabled=True, kmeans_path=f"{s3_bucket}/nope.npz")).check()
