"""``uniaudio model-info``."""

import json

from uniaudio.cli import main


def test_model_info_1b(capsys):
    assert main(["model-info", "uniaudio-1b"]) == 0
    out = capsys.readouterr().out
    for part in ("global", "local", "embeddings", "head", "total"):
        assert f"\n  {part}" in out
    assert "1.018 B" in out and "context 1000 frames" in out and "GFLOP" in out


def test_model_info_json_overrides_and_context(capsys):
    assert main(["model-info", "tiny", "--context", "50", "--json", "--set", "n_q=4"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["config"]["n_q"] == 4 and doc["context"] == 50
    p = doc["params"]
    assert p["total"] == p["global"] + p["local"] + p["embeddings"] + p["head"]


def test_model_info_bad_input(capsys):
    assert main(["model-info", "huge"]) == 2
    assert "known presets" in capsys.readouterr().err
    assert main(["model-info", "tiny", "--set", "n_head=5"]) == 2
    assert "n_head" in capsys.readouterr().err
    assert main(["model-info", "tiny", "--context", "0"]) == 2
