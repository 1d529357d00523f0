"""The whole data path on the small demo corpus: demo-corpus -> semantic k-means -> tokenize (real Ray)
-> examples, with every one of the 14 tasks getting examples and nothing quarantined. Slow (minutes)."""

import glob
from pathlib import Path

import pytest

from uniaudio.stores import delta
from pipelines.democorpus import SMALL, DemoCorpusConfig, build_demo_corpus
from pipelines.examples import ExamplesConfig, run_examples
from pipelines.tokenize import TokenizeConfig, run_tokenize
from uniaudio.tasks import TASKS
from uniaudio.tokenizers import fit_semantic_kmeans

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_demo_corpus_tokenize_and_examples(tmp_path, ray_session, tiny_codec):
    corpus = tmp_path / "corpus"
    build_demo_corpus(corpus, DemoCorpusConfig(small=True, sizes=SMALL, seed=0, workers=2))
    wavs = sorted(glob.glob(str(corpus / "real_speech" / "**" / "*.wav"), recursive=True))[:8]
    km = fit_semantic_kmeans(wavs, 16, tmp_path / "km.npz")
    cfg = TokenizeConfig(tokenizers={"semantic": {"enabled": True, "kmeans_path": str(tmp_path / "km.npz")}},
                         mlflow={"tracking_uri": f"sqlite:///{tmp_path}/mlflow.db"})
    store = str(tmp_path / "tokens")
    s = run_tokenize(str(corpus / "datasets.yaml"), store, tiny_codec, cfg)
    assert s.rows_quarantined == 0 and s.rows_out == s.rows_in and s.mlflow_run_id
    rows = delta.read_table(store).to_pylist()
    by_ds = {r["dataset"]: r for r in rows}
    assert by_ds["singing"]["sing_midi"] and len(by_ds["singing"]["sing_midi"]) == by_ds["singing"]["n_frames"]
    assert by_ds["real_speech"]["semantic"] and max(by_ds["real_speech"]["semantic"]) < km.k
    assert by_ds["sim_tse"]["enrolment_n_frames"] and by_ds["sim_se"]["source_n_frames"]
    assert by_ds["music"]["caption_emb_dim"] == 384 and by_ds["instruct_speech"]["instruction_emb_dim"] == 384

    ex = run_examples(store, str(tmp_path / "examples"), ExamplesConfig(mlflow={"enabled": False}))
    assert set(ex.per_task) == set(TASKS)
    assert not ex.skipped, ex.skipped
    again = run_tokenize(str(corpus / "datasets.yaml"), store, tiny_codec, cfg)
    assert again.rows_todo == 0 and again.table_version == s.table_version
    assert Path(store, "_quarantine").exists() is False or delta.read_table(store + "/_quarantine").num_rows == 0
