"""A user's tasks file: the task is registered, round-trips, builds examples and requests; bad files fail clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uniaudio.tasks import TASKS, TaskFileError, get_task, use_tasks_file

BWE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "bandwidth_extension.yaml"


@pytest.fixture
def bwe():
    use_tasks_file(BWE)
    yield get_task("bandwidth_extension")
    use_tasks_file(None)


def test_cli_lists_user_task_with_its_file(capsys):
    from uniaudio.cli import main

    try:
        assert main(["tasks", "--tasks-file", str(BWE)]) == 0
    finally:
        use_tasks_file(None)
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("bandwidth_extension"))
    assert f"{BWE}:4" in line and "source:audio -> target:audio" in line
    assert "builtin.yaml:" in next(x for x in out.splitlines() if x.startswith("tts "))
    assert "bandwidth_extension" not in TASKS


def test_sequence_round_trips_with_an_extended_vocab(bwe):
    from uniaudio.sequence import build_sequence, parse_sequence
    from uniaudio.vocab import load_vocab

    v = load_vocab()
    assert v.version == "v1+ext" and v.task_id("bandwidth_extension") == 78
    assert v.content_hash != load_vocab("uniaudio/vocab/v1.json").content_hash
    rng = np.random.default_rng(0)
    segs = {"source": rng.integers(0, 1024, (20, 3)), "target": rng.integers(0, 1024, (20, 3))}
    seq = build_sequence("bandwidth_extension", segs, v, n_q=3)
    assert int(seq.frames[1, 0]) == 78
    back = parse_sequence(seq, v)
    for k in segs:
        np.testing.assert_array_equal(back[k], segs[k])


def test_examples_requests_and_eval_requests_derive_from_the_declaration(bwe):
    from pipelines.examples.choices import Choice
    from pipelines.examples.segments import segments_for
    from pipelines.sources.manifest import ManifestRow
    from pipelines.tokenize.needs import missing_inputs
    from uniaudio.evaluate.registry import metrics_for
    from uniaudio.generate.requests import parse_request
    from workflows.kinds.requests import make_request

    row = {f"codes_{k}": list(range(5)) for k in range(3)} | {f"source_codes_{k}": [7] * 5 for k in range(3)}
    segs = segments_for(Choice("bandwidth_extension", "d", "u"), {"u": row}, 3)
    assert segs["source"].tolist() == [[7, 7, 7]] * 5 and segs["target"][:, 0].tolist() == list(range(5))
    assert missing_inputs("bandwidth_extension", {}) == ["source"]
    assert bwe.request_inputs == ("source",)
    with pytest.raises(ValueError, match="needs source"):
        parse_request({"task": "bandwidth_extension", "id": "a"})
    r = ManifestRow("d", "u", "/x/u.wav", paired={"source": "/x/u.source.wav"})
    assert make_request("bandwidth_extension", r, [r]) == {
        "task": "bandwidth_extension", "id": "bandwidth_extension-d-u", "source": "/x/u.source.wav",
        "reference": "/x/u.wav"}
    assert [m.name for m in metrics_for("bandwidth_extension")][:3] == ["pesq", "stoi", "si_snr"]


GOOD = """tasks:
  - name: accent_conversion
    description: speech in one accent -> the same words in the prompt speaker's accent
    conditions:
      - {name: source, modality: audio, example: codes(source), request: codes(source)}
      - {name: prompt, modality: audio_prompt, example: prompt, request: prompt_codes(prompt)}
    target: {name: target, modality: audio, example: codes}
    pairing: speaker_prompt
    eval: {source: paired(source), prompt: other_utt(same_speaker)}
"""


@pytest.mark.parametrize("old,new,field", [
    ("modality: audio_prompt", "modality: accent", "tasks[0] (accent_conversion).conditions[1].modality"),
    ("    target: {name: target, modality: audio, example: codes}\n", "", "tasks[0] (accent_conversion).target"),
    ("prompt: other_utt(same_speaker)}", "prompt: other_utt(same_speaker), text: row(text)}",
     "tasks[0] (accent_conversion).eval.text"),
    ("name: accent_conversion", "name: tts", "tasks[0].name: duplicate task name 'tts'"),
    ("pairing: speaker_prompt", "pairing: magic", "tasks[0] (accent_conversion).pairing"),
])
def test_malformed_task_file_is_one_line_naming_the_field(tmp_path, capsys, old, new, field):
    from uniaudio.cli import main

    ok = tmp_path / "ok.yaml"
    ok.write_text(GOOD)
    try:
        assert use_tasks_file(ok) == ["accent_conversion"]
    finally:
        use_tasks_file(None)
    bad = tmp_path / "bad.yaml"
    assert old in GOOD
    bad.write_text(GOOD.replace(old, new))
    with pytest.raises(TaskFileError, match=field.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        use_tasks_file(bad)
    use_tasks_file(None)
    assert main(["tasks", "--tasks-file", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and field in err[0] and str(bad) in err[0]
    use_tasks_file(None)


def test_duplicate_name_inside_one_file(tmp_path):
    p = tmp_path / "dup.yaml"
    body = GOOD.split("tasks:\n", 1)[1]
    p.write_text("tasks:\n" + body + body)
    with pytest.raises(TaskFileError, match=r"tasks\[1\]\.name: duplicate task name 'accent_conversion'"):
        use_tasks_file(p)
    use_tasks_file(None)
