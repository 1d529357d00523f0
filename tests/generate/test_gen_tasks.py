"""Every task end to end from a tiny trained checkpoint: request -> conditions -> generation -> codec
decode -> wav (asr: text, sv: label); batch mode writes a results file `uniaudio evaluate` accepts;
batch == one-by-one for fixed seeds; the CLI in both modes."""

import json

import numpy as np
import pytest
import soundfile as sf

from gen_helpers import task_requests
from uniaudio.cli import main as cli
from uniaudio.generate.batch import run_batch
from uniaudio.generate.config import GenerateConfig
from uniaudio.generate.requests import parse_request, read_requests
from uniaudio.generate.runner import Generator
from uniaudio.tasks import TASKS

LENGTHS = {"max_seconds": 0.6, "min_seconds": 0.2, "max_frames_per_phone": 5}


def small_cfg(**over) -> GenerateConfig:
    return GenerateConfig.model_validate({"lengths": LENGTHS, "batch_size": 8, **over})


@pytest.fixture(scope="module")
def gen(assets):
    with Generator(assets["model"], small_cfg()) as g:
        yield g


@pytest.fixture(scope="module")
def outcomes(gen, assets):
    reqs = [parse_request(o) for o in task_requests(assets["wavs"], assets["midi"])]
    return {o.request.task: o for o in gen.generate(reqs)}


def test_the_fixture_model_was_trained(assets):
    assert assets["losses"][-1] < 0.8 * assets["losses"][0]


def test_every_task_produces_a_decodable_output_of_plausible_length(outcomes):
    assert set(outcomes) == set(TASKS)
    for task, o in outcomes.items():
        assert o.ok, (task, o.error)
        assert 1 <= o.min_frames <= o.frames <= o.max_frames, task
        assert o.stop in ("eos", "max_frames")
        if task == "asr":
            assert isinstance(o.text, str) and o.wav is None
        elif task == "sv":
            assert o.label in (0, 1) and o.frames == 1
        else:
            assert o.wav.dtype == np.float32 and len(o.wav) == o.frames * 320 and np.isfinite(o.wav).all(), task
    # bounds from the conditions: 0.5 s of source = 25 frames -> [0.8, 1.25] x 25; 0.6 s of speech =
    # 30 semantic units; free tasks 0.2 .. 0.6 s; three 0.15 s notes = 22-23 MIDI frames
    for task, (lo, hi) in {"se": (20, 32), "dereverb": (20, 32), "tse": (20, 32), "vc": (24, 38),
                           "text_to_sound": (10, 30), "text_to_music": (10, 30), "speech_edit": (24, 38)}.items():
        assert (outcomes[task].min_frames, outcomes[task].max_frames) == (lo, hi), task
    assert 17 <= outcomes["svs"].min_frames and outcomes["svs"].max_frames <= 29
    n_phones = outcomes["plain_tts"].max_frames // 5  # "Good day." -> G UH D | D EY (+ pause): 5-7 phones
    assert 4 <= n_phones <= 8 and outcomes["plain_tts"].min_frames == 2 * n_phones


def test_batch_mode_writes_a_results_file_evaluate_accepts(gen, assets, tmp_path):
    from uniaudio.evaluate.results import load_results

    reqs = task_requests(assets["wavs"], assets["midi"])
    lines = [json.dumps(r) for r in reqs[:5] + reqs[-2:]]
    lines.append(json.dumps({"task": "tts", "id": "no-prompt", "text": "hi"}))  # missing input
    lines.append(json.dumps({"task": "se", "id": "gone", "source": "missing.wav"}))  # missing file
    lines.append(json.dumps({"task": "speech_edit", "id": "late", "text": "hi", "source": assets["wavs"]["speech"],
                             "edit_span": "5:6"}))  # span after the end of the 0.6 s source
    lines.append("{not json")
    (tmp_path / "requests.jsonl").write_text("\n".join(lines) + "\n")
    requests, bad = read_requests(tmp_path / "requests.jsonl")
    summary = run_batch(gen, requests, bad, tmp_path / "out", progress=False)
    assert (summary.requests, summary.generated, summary.failed) == (11, 7, 4)
    errors = [json.loads(x) for x in (tmp_path / "out" / "errors.jsonl").read_text().splitlines()]
    reasons = " ".join(e["reason"] for e in errors)
    assert "needs prompt" in reasons and "missing" in reasons and "invalid JSON" in reasons and "edit_span" in reasons
    items, invalid = load_results(tmp_path / "out" / "results.jsonl")
    assert not invalid and len(items) == 7
    by_id = {i.id: i for i in items}
    assert isinstance(by_id["asr-1"].output, str) and by_id["asr-1"].text == "hello"
    assert by_id["sv-1"].output in (0, 1) and by_id["sv-1"].label == 1
    assert by_id["tts-1"].reference == assets["wavs"]["speech"] and by_id["tts-1"].prompt == assets["wavs"]["prompt"]
    assert by_id["se-1"].source == assets["wavs"]["noisy"]
    for item in items:
        if item.audio_output:
            data, sr = sf.read(item.output)
            assert sr == 16000 and len(data) == item.extra["frames"] * 320


def test_batch_generation_equals_one_by_one_for_fixed_seeds(gen, assets):
    reqs = [parse_request(o) for o in task_requests(assets["wavs"], assets["midi"])]
    pick = [r for r in reqs if r.task in ("tts", "se", "text_to_sound", "asr", "vc")]
    gen.cfg.batch_size = 8
    together = gen.generate(pick)
    gen.cfg.batch_size = 1
    try:
        alone = gen.generate(pick)
    finally:
        gen.cfg.batch_size = 8
    for a, b in zip(together, alone):
        assert a.frames == b.frames and a.stop == b.stop and a.seed == b.seed
        if a.wav is not None:  # identical codes; the codec decodes a padded batch to within round-off
            np.testing.assert_array_equal(a.codes, b.codes)
            np.testing.assert_allclose(a.wav, b.wav, atol=1e-5)
        assert a.text == b.text
    pick[0].seed = 12345  # another seed, another sample
    assert not np.array_equal(gen.generate(pick[:1])[0].codes, together[0].codes)


def test_cli_single_request_and_batch(assets, tmp_path, capsys):
    w = assets["wavs"]
    out = tmp_path / "clean.wav"
    rc = cli(["generate", "--task", "se", "--model", assets["model"], "--source", w["noisy"], "-o", str(out),
              "--fixed-length", "--seed", "3", "--results", str(tmp_path / "one.jsonl"), "--quiet"])
    assert rc == 0 and sf.info(str(out)).frames == 25 * 320  # fixed length: exactly the source's 25 frames
    rec = json.loads((tmp_path / "one.jsonl").read_text())
    assert rec["task"] == "se" and rec["id"] == "clean" and rec["seed"] == 3 and rec["output"] == str(out.resolve())
    rc = cli(["generate", "--task", "asr", "--model", assets["model"], "--source", w["other"], "--top-k", "1"])
    assert rc == 0 and "asr asr" in capsys.readouterr().out
    reqs = tmp_path / "reqs.jsonl"
    reqs.write_text(json.dumps({"task": "dereverb", "id": "d1", "source": w["noisy"]}) + "\n")
    rc = cli(["generate", "--batch", str(reqs), "--out-dir", str(tmp_path / "b"), "--model", assets["model"],
              "--set", "lengths.max_source_ratio=1.0", "--quiet"])
    assert rc == 0 and (tmp_path / "b" / "wavs" / "d1.wav").is_file()
    assert "generated 1/1 requests" in capsys.readouterr().out


def test_cli_bad_input_is_a_clear_error(assets, capsys):
    assert cli(["generate", "--task", "tts", "--model", assets["model"], "--text", "hi", "-o", "x.wav"]) == 2
    assert "needs prompt" in capsys.readouterr().err
    assert cli(["generate", "--task", "se", "--model", assets["model"], "--source", "s.wav"]) == 2
    assert "-o OUT.wav" in capsys.readouterr().err
    assert cli(["generate", "--task", "se", "--model", "/nonexistent/model", "--source", "s.wav", "-o", "o.wav"]) == 2
    assert "does not exist" in capsys.readouterr().err
