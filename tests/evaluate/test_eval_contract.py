"""The RESULTS.jsonl contract, text normalisation / WER, the registry and the table (no models)."""

from __future__ import annotations

import csv
import json

import pytest

from uniaudio.errors import UserFacingError
from uniaudio.evaluate.registry import TASK_FAMILIES, check_metric_names, metrics_for
from uniaudio.evaluate.results import load_results, parse_label
from uniaudio.evaluate.scoring import ItemScore
from uniaudio.evaluate.table import INVALID, ResultsTable
from uniaudio.evaluate.text import Ratio, cer, normalize_text, wer
from uniaudio.tasks import TASKS


def _write(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path


def test_results_paths_resolve_against_the_jsonl_folder(tmp_path):
    sub = tmp_path / "gen"
    sub.mkdir()
    p = _write(sub / "results.jsonl", [
        {"task": "tts", "id": "a", "output": "wavs/a.wav", "prompt": "/abs/p.wav", "reference": "file:///r/a.wav",
         "text": "Hello", "seed": 7},
        {"task": "sv", "id": "b", "output": "same", "label": False},
        {"task": "asr", "id": "c", "output": "hello world", "text": "hello world"},
    ])
    items, bad = load_results(p)
    assert bad == []
    tts, sv, asr = items
    assert tts.output == str(sub / "wavs" / "a.wav") and tts.prompt == "/abs/p.wav" and tts.reference == "/r/a.wav"
    assert tts.extra == {"seed": 7} and tts.has("prompt|enrolment") and not tts.has("enrolment")
    assert (sv.output, sv.label) == (1, 0) and not sv.audio_output
    assert asr.output == "hello world" and not asr.audio_output


def test_bad_lines_are_reported_with_reasons_not_raised(tmp_path):
    p = _write(tmp_path / "r.jsonl", [
        {"task": "tts", "id": "a", "output": "a.wav"},
        "{oops",
        {"task": "tts", "id": "a", "output": "again.wav"},
        {"task": "karaoke", "id": "k", "output": "k.wav"},
        {"task": "tts", "output": "x.wav"},
        {"task": "sv", "id": "s", "output": "maybe"},
        {"task": "tts", "id": "n", "output": 3},
        "[1, 2]",
        "",
    ])
    items, bad = load_results(p)
    assert [i.id for i in items] == ["a"]
    reasons = {b.line: b.reason for b in bad}
    assert reasons[2].startswith("invalid JSON")
    assert "duplicate id 'a'" in reasons[3]
    assert "unknown task 'karaoke'" in reasons[4]
    assert "missing required key 'id'" in reasons[5]
    assert "label 'maybe'" in reasons[6]
    assert "output must be a wav path" in reasons[7]
    assert "expected a JSON object" in reasons[8]
    with pytest.raises(UserFacingError, match="does not exist"):
        load_results(tmp_path / "nope.jsonl")


def test_labels():
    assert [parse_label(v) for v in (True, 0, 1, "same", "Different", "1", "false")] == [1, 0, 1, 1, 0, 1, 0]
    with pytest.raises(ValueError):
        parse_label(0.5)


def test_normalisation_and_error_rates():
    assert normalize_text("He was NOT an ill-disposed young man.") == "he was not an ill disposed young man"
    assert normalize_text("Don\u2019t  stop") == normalize_text("dont stop") == "dont stop"
    assert wer("He was not an ill-disposed young man.", "he was not an ill disposed young man").value == 0.0
    r = wer("the cat sat on mat", "the cat sat on the mat")
    assert (r.num, r.den) == (1, 6)
    assert wer("a b c d", "x").value == 4.0  # insertions can push WER over 1
    assert cer("", "abc").value == 1.0 and wer("", "").value == 0.0


def test_every_task_has_metrics_and_selection_is_checked():
    assert set(TASK_FAMILIES) == set(TASKS)
    assert [m.name for m in metrics_for("tts")] == ["wer", "cer", "sim_prompt", "sim_ref", "mcd"]
    assert "fd" in [m.name for m in metrics_for("text_to_music")]
    with pytest.raises(UserFacingError, match="unknown metric"):
        check_metric_names(["wer", "bleu"])


def test_table_pools_wer_and_counts_failures_and_skips(tmp_path):
    t = ResultsTable()
    t.add_item(ItemScore("model", "tts", "a", {"wer": Ratio(1, 10), "mcd": 4.0}, skipped=["sim_prompt"]))
    t.add_item(ItemScore("model", "tts", "b", {"wer": Ratio(3, 10), "mcd": 6.0}))
    t.add_item(ItemScore("model", "tts", "c", {}, errors={"wer": "AudioError: missing", "mcd": "AudioError: missing"}))
    t.add_item(ItemScore("codec_resynthesis", "tts", "a", {"wer": Ratio(0, 10)}))
    t.add_set_metric("model", "text_to_sound", "fd", 12.5, 3)
    t.add_invalid(None, "line 4: invalid JSON")
    rows = {(r.system, r.task, r.metric): r for r in t.rows()}
    wer_row = rows[("model", "tts", "wer")]
    assert (wer_row.mean, wer_row.n, wer_row.failed) == (pytest.approx(0.2), 2, 1)
    assert rows[("model", "tts", "mcd")].mean == 5.0 and rows[("model", "tts", "mcd")].std == 1.0
    assert rows[("model", "tts", "sim_prompt")].skipped == 1 and rows[("model", "tts", "sim_prompt")].mean is None
    assert rows[("model", "text_to_sound", "fd")].mean == 12.5 and rows[("model", "text_to_sound", "fd")].n == 3
    assert rows[("model", "?", INVALID)].failed == 1
    order = [k for k in rows]
    assert order.index(("model", "tts", "wer")) < order.index(("codec_resynthesis", "tts", "wer"))
    tracked = t.metrics_for_tracking()
    assert tracked["tts/wer"] == pytest.approx(0.2) and tracked["tts/wer.failed"] == 1
    assert tracked["codec_resynthesis/tts/wer"] == 0.0 and "unknown/invalid_items.failed" in tracked
    text = t.format()
    assert "failures model/tts/wer (1): AudioError: missing" in text
    js, cs = t.write(tmp_path, {"n_items": 3})
    assert json.loads(js.read_text())["n_items"] == 3
    with cs.open() as f:
        csv_rows = list(csv.DictReader(f))
    assert len(csv_rows) == len(rows) and csv_rows[0]["metric"] == "wer"


@pytest.mark.parametrize("module", ["text", "results", "signal_metrics", "mcd", "frechet", "registry"])
def test_module_examples_hold(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"uniaudio.evaluate.{module}"))
    assert result.attempted > 0 and result.failed == 0
