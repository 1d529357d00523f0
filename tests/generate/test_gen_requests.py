"""Request parsing (flags / JSONL) and the length bounds derived from the conditions."""

import json

import pytest

from uniaudio.config import ConfigError, load_config
from uniaudio.generate.lengths import Bounds, LengthConfig, length_bounds
from uniaudio.generate.requests import REQUIRED, parse_edit_span, parse_request, read_requests
from uniaudio.tasks import TASKS


def test_every_task_lists_its_inputs_and_missing_ones_are_named():
    assert set(REQUIRED) == set(TASKS)
    for task, needs in REQUIRED.items():
        with pytest.raises(ValueError, match=f"task {task} needs {needs[0]}"):
            parse_request({"task": task, "id": "x"})
    with pytest.raises(ValueError, match="unknown or missing task"):
        parse_request({"task": "karaoke", "id": "x"})
    with pytest.raises(ValueError, match="must not contain"):
        parse_request({"task": "se", "id": "../evil", "source": "a.wav"})
    with pytest.raises(ValueError, match="non-empty string"):
        parse_request({"task": "plain_tts", "id": "x", "text": "  "})
    with pytest.raises(ValueError, match="seed"):
        parse_request({"task": "se", "id": "x", "source": "a.wav", "seed": -1})


def test_paths_resolve_against_the_requests_file_and_extras_pass_through(tmp_path):
    r = parse_request({"task": "tse", "id": "m1", "source": "mix.wav", "enrolment": "/abs/e.wav",
                       "reference": "file:///r.wav", "speaker": "spk7"}, base=tmp_path)
    assert r.source == str(tmp_path / "mix.wav") and r.enrolment == "/abs/e.wav" and r.reference == "/r.wav"
    assert r.extra == {"speaker": "spk7"} and r.to_dict()["speaker"] == "spk7"


def test_edit_span_forms():
    assert parse_edit_span("1.2:1.9") == (1.2, 1.9) == parse_edit_span([1.2, 1.9])
    for bad in ("2:1", "a:b", "1", [0.5], 3.0, "-1:2"):
        with pytest.raises(ValueError, match="edit_span"):
            parse_edit_span(bad)


def test_read_requests_reports_bad_lines_and_duplicates(tmp_path):
    lines = [json.dumps({"task": "se", "source": "a.wav"}), "", "[1, 2]", json.dumps({"task": "se", "id": "se-1", "source": "b.wav"}),
             json.dumps({"task": "asr", "id": "q", "source": "c.wav"}), "{oops"]
    (tmp_path / "r.jsonl").write_text("\n".join(lines))
    good, bad = read_requests(tmp_path / "r.jsonl")
    assert [r.id for r in good] == ["se-1", "q"]  # line 1's default id is se-1; line 4 repeats it
    assert [(b.line, b.reason.split(":")[0].split(" ")[0]) for b in bad] == [(3, "a"), (4, "duplicate"), (6, "invalid")]


def test_length_bounds_per_task_family():
    cfg = LengthConfig()
    assert length_bounds("tts", {"phone_count": 10}, cfg) == Bounds(20, 250)
    assert length_bounds("instruct_tts", {"phone_count": 3}, cfg) == Bounds(6, 75)
    assert length_bounds("se", {"source_frames": 100}, cfg) == Bounds(80, 125)
    assert length_bounds("vc", {"source_frames": 100}, LengthConfig(fixed_length=True)) == Bounds(100, 100)
    assert length_bounds("text_to_music", {}, cfg) == Bounds(50, 500)
    assert length_bounds("text_to_sound", {}, LengthConfig(max_seconds=30.0)) == Bounds(50, 1500)
    assert length_bounds("asr", {"source_seconds": 2.0}, cfg) == Bounds(1, 88)
    assert length_bounds("sv", {}, cfg) == Bounds(1, 1)
    assert length_bounds("dereverb", {"source_frames": 10_000}, cfg).max_frames == cfg.max_frames_cap
    assert length_bounds("se", {"source_frames": 1}, cfg) == Bounds(1, 2)  # never an empty output
    with pytest.raises(ConfigError, match="must not exceed"):
        load_config(LengthConfig, overrides=["min_seconds=20"])
