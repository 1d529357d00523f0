"""The codec stage's two forms (``codec_pool.mode``: an actor pool for GPUs, tasks with a per-worker
encoder for CPUs) write the same rows, and a codec retrained into the same folder is reloaded by tasks."""

import pytest

from pipelines.tokenize import TokenizeConfig, run_tokenize
from pipelines.tokenize.codec_stage import _codec_key

pytestmark = pytest.mark.integration


def _rows(store: str) -> list[dict]:
    import deltalake

    t = deltalake.DeltaTable(store).to_pyarrow_table().sort_by("utt_id")
    return t.select(["utt_id", "n_frames"] + [c for c in t.column_names if "codes_" in c]).to_pylist()


def test_actor_and_task_forms_write_the_same_codes(tmp_path, ray_session, tiny_codec, corpus_tools):
    rows = [{"utt_id": f"u{i}", "audio": f"u{i}.wav", "text": f"utterance {i}", "speaker": "s"} for i in range(4)]
    corpus_tools["write_dataset"](tmp_path / "a", rows, {f"u{i}.wav": (corpus_tools["tone"](0.5 + 0.3 * i, seed=i), 16000)
                                                         for i in range(4)})
    spec = corpus_tools["write_spec"](tmp_path / "a.yaml", [{"name": "a", "root": "a", "tasks": ["asr"]}])
    out = {}
    for mode in ("actors", "tasks"):
        cfg = TokenizeConfig(mlflow={"enabled": False}, codec_pool={"mode": mode, "batch_rows": 2})
        s = run_tokenize(str(spec), str(tmp_path / mode), tiny_codec, cfg, address=ray_session)
        assert s.rows_out == 4
        out[mode] = _rows(str(tmp_path / mode))
    assert out["actors"] == out["tasks"] and len(out["tasks"]) == 4


def test_a_changed_codec_file_is_a_new_encoder_key(tmp_path):
    (tmp_path / "weights.pt").write_bytes(b"a")
    before = _codec_key(str(tmp_path), {"n_q": 3}, 1)
    (tmp_path / "weights.pt").write_bytes(b"bb")
    assert _codec_key(str(tmp_path), {"n_q": 3}, 1) != before
    assert _codec_key(str(tmp_path), {"n_q": 4}, 1) != _codec_key(str(tmp_path), {"n_q": 3}, 1)
