"""tokenize + examples with only s3:// URIs (dataset roots, codec, token store, quarantine, example
store) in a fresh process with its own embedded Ray (which forwards the S3 settings to its workers):
good rows tokenized from audio read in the bucket, bad rows quarantined in the bucket, the example
store built from the S3 token store, both readable with plain deltalake + pyarrow.

Slow (an embedded Ray and two pipeline runs in a subprocess): ``make test-all``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from tests.pipelines.conftest import tone, write_dataset, write_spec
from uniaudio.stores import delta
from uniaudio.stores import uri as uris
from uniaudio.stores.tables import ExampleStore, TokenStore, quarantine_uri

pytestmark = [pytest.mark.slow, pytest.mark.integration]

_RUN = r"""
import json, sys
from pipelines.examples.build import run_examples
from pipelines.examples.config import ExamplesConfig
from pipelines.tokenize import TokenizeConfig, run_tokenize
spec, bucket = sys.argv[1], sys.argv[2]
cfg = TokenizeConfig(commit={"chunk_rows": 3}, ray={"block_rows": 2}, codec_pool={"batch_rows": 4}, mlflow={"enabled": False})
s = run_tokenize(spec, f"{bucket}/tokens", f"{bucket}/codec", cfg)
e = run_examples(f"{bucket}/tokens", f"{bucket}/examples", ExamplesConfig(mlflow={"enabled": False}))
print("RESULT " + json.dumps({"out": s.rows_out, "quarantined": s.rows_quarantined, "examples": e.table_version}))
"""


def test_tokenize_and_examples_with_only_s3_uris(s3_bucket, s3_env, tmp_path):
    from codec.config import preset
    from codec.export import export_codec
    from codec.model import CodecModel

    torch.manual_seed(0)
    cfg = preset("tiny")
    export_codec(CodecModel(cfg), cfg, tmp_path / "codec")
    uris.upload_dir(tmp_path / "codec", f"{s3_bucket}/codec")
    rows = [{"utt_id": "u0", "audio": "u0.wav", "text": "hello world", "speaker": "s0"},
            {"utt_id": "u1", "audio": "u1.wav", "text": "good morning", "speaker": "s0"},
            {"utt_id": "bad", "audio": "bad.wav", "text": "corrupt", "speaker": "s0"},
            {"utt_id": "gone", "audio": "gone.wav", "text": "missing", "speaker": "s0"}]
    write_dataset(tmp_path / "speech", rows, {"u0.wav": (tone(1.0, 22050, seed=0), 22050),
                                             "u1.wav": (tone(1.2, 16000, 300, seed=1), 16000),
                                             "bad.wav": b"RIFF\x00\x00 this is not audio"})
    uris.upload_dir(tmp_path / "speech", f"{s3_bucket}/corpora/speech")
    spec = write_spec(tmp_path / "spec.yaml", [{"name": "speech", "root": f"{s3_bucket}/corpora/speech",
                                                "tasks": ["tts"]}])
    work = tmp_path / "work"
    work.mkdir()
    p = subprocess.run([sys.executable, "-c", _RUN, str(spec), s3_bucket], cwd=work, capture_output=True, text=True,
                       timeout=1200)
    line = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
    assert p.returncode == 0 and line, (p.stdout[-2000:], p.stderr[-4000:])
    res = json.loads(line[-1][len("RESULT "):])
    assert res["out"] == 2 and res["quarantined"] == 2
    tokens = TokenStore.open(f"{s3_bucket}/tokens")
    assert sorted(tokens.read(columns=["utt_id"]).column("utt_id").to_pylist()) == ["u0", "u1"]
    assert all(f.startswith(s3_bucket) for f in tokens.files())
    q = delta.read_table(quarantine_uri(f"{s3_bucket}/tokens")).to_pylist()
    assert sorted((r["utt_id"], r["reason"]) for r in q) == [("bad", "unreadable"), ("gone", "missing_audio")]
    assert tokens.lineage()["codec_dir"] == f"{s3_bucket}/codec"  # the lineage names the bucket's codec
    ex = ExampleStore.open(f"{s3_bucket}/examples")
    assert ex.read(columns=["task"]).num_rows >= 1 and ex.lineage()["tokens_uri"] == f"{s3_bucket}/tokens"
    assert [pp.name for pp in work.iterdir() if not pp.name.startswith(".")] in ([], ["logs"]), list(work.iterdir())
