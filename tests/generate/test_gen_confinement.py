"""`generate --batch` writes only inside --out-dir, never replaces a file silently, validates each
line's output extension and keeps going past bad lines; inputs are bounded before any heavy work."""

import json
import subprocess
import sys

import pytest

from uniaudio.errors import UserFacingError
from uniaudio.generate.batch import run_batch
from uniaudio.generate.config import GenerateConfig
from uniaudio.generate.limits import RequestLimits
from uniaudio.generate.requests import confined_output, parse_request, read_requests
from uniaudio.generate.runner import Generator

SMALL = {"lengths": {"max_frames_per_phone": 3, "max_source_ratio": 1.0}, "batch_size": 8}


@pytest.fixture(scope="module")
def gen(assets):
    with Generator(assets["model"], GenerateConfig.model_validate({**SMALL, "limits": {"max_phones": 40}})) as g:
        yield g


@pytest.mark.parametrize("value,why", [("/etc/x.wav", "relative"), ("../up.wav", "no '..'"), ("a/../../b.wav", "no '..'"),
                                       ("file:///tmp/x.wav", "relative"), ("~/x.wav", "relative")])
def test_output_must_stay_relative(value, why):
    with pytest.raises(ValueError, match=why):
        confined_output(value)
    with pytest.raises(ValueError):
        parse_request({"task": "se", "id": "a", "source": "n.wav", "output": value}, relative_output=True)


def test_output_extension_is_checked_per_line():
    with pytest.raises(ValueError, match="writes audio; use .wav or .flac"):
        parse_request({"task": "se", "id": "a", "source": "n.wav", "output": "a.txt"}, relative_output=True)
    assert parse_request({"task": "se", "id": "a", "source": "n.wav", "output": "./s/a.FLAC"},
                         relative_output=True).output == "s/a.FLAC"


def test_text_and_request_count_are_bounded(tmp_path):
    with pytest.raises(ValueError, match="100000 characters, more than limits.max_text_chars=2000"):
        parse_request({"task": "plain_tts", "id": "a", "text": "a" * 100_000})
    p = tmp_path / "r.jsonl"
    p.write_text("".join(json.dumps({"task": "plain_tts", "id": f"r{i}", "text": "hi"}) + "\n" for i in range(4)))
    assert len(read_requests(p, RequestLimits(max_requests=4))[0]) == 4
    with pytest.raises(UserFacingError, match="more than limits.max_requests=3"):
        read_requests(p, RequestLimits(max_requests=3))


def test_batch_is_confined_and_never_overwrites(gen, assets, tmp_path):
    w = assets["wavs"]
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (out / "link").symlink_to(outside)  # a symlinked folder inside --out-dir leads out of it
    (out / "keep.wav").write_bytes(b"precious")
    se = {"task": "se", "source": w["noisy"]}
    lines = [
        {**se, "id": "abs", "output": str(outside / "abs.wav")},
        {**se, "id": "up", "output": "../outside/up.wav"},
        {**se, "id": "sym", "output": "link/sym.wav"},
        {**se, "id": "txt", "output": "x.txt"},
        {**se, "id": "keep", "output": "keep.wav"},
        {**se, "id": "ok1", "output": "sub/ok1.wav"},
        {**se, "id": "ok2"},
        {**se, "id": "dup", "output": "sub/ok1.wav"},
        {"task": "asr", "id": "asr1", "source": w["other"]},
    ]
    (tmp_path / "req.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    requests, bad = read_requests(tmp_path / "req.jsonl")
    s = run_batch(gen, requests, bad, out, progress=False)
    assert (s.requests, s.generated, s.failed) == (9, 3, 6)
    assert not list(outside.iterdir()) and (out / "keep.wav").read_bytes() == b"precious"
    assert (out / "sub" / "ok1.wav").is_file() and (out / "wavs" / "ok2.wav").is_file()
    errors = {e["id"]: e["reason"] for e in map(json.loads, (out / "errors.jsonl").read_text().splitlines())}
    assert set(errors) == {"abs", "up", "sym", "txt", "keep", "dup"}
    assert "resolves outside --out-dir" in errors["sym"] and "--overwrite" in errors["keep"]
    assert ".wav or .flac" in errors["txt"] and "also the output of request 'ok1'" in errors["dup"]
    results = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert {r["id"] for r in results} == {"ok1", "ok2", "asr1"}
    again = run_batch(gen, requests[:1] + requests[-3:-1], [], out, progress=False)  # keep, ok1, ok2 exist now
    assert again.generated == 0 and (out / "keep.wav").read_bytes() == b"precious"
    forced = run_batch(gen, [r for r in requests if r.id in ("keep", "ok2")], [], out, progress=False, overwrite=True)
    assert forced.generated == 2 and (out / "keep.wav").read_bytes() != b"precious"


def test_unwritable_output_fails_only_its_request(gen, assets, tmp_path):
    out = tmp_path / "out"
    (out / "blocked.wav").mkdir(parents=True)  # a folder where the wav should go: soundfile cannot write it
    reqs = [parse_request({"task": "se", "id": i, "source": assets["wavs"]["noisy"], **o}, relative_output=True)
            for i, o in (("a", {"output": "blocked.wav"}), ("b", {}))]
    s = run_batch(gen, reqs, [], out, progress=False, overwrite=True)
    assert (s.generated, s.failed) == (1, 1) and (out / "wavs" / "b.wav").is_file()
    (err,) = map(json.loads, (out / "errors.jsonl").read_text().splitlines())
    assert err["id"] == "a" and err["reason"].startswith("cannot write")


def test_phone_and_prefix_limits_refuse_before_generation(gen, assets):
    long_text = " ".join(["hello"] * 30)  # ~120 phones > max_phones=40
    (o,) = gen.generate([parse_request({"task": "plain_tts", "id": "long", "text": long_text})])
    assert not o.ok and "limits.max_phones=40" in o.error and o.frames == 0


def test_cli_huge_tts_text_is_one_line_and_fast(assets, tmp_path):
    p = subprocess.run([sys.executable, "-m", "uniaudio", "generate", "--task", "tts", "--model", assets["model"],
                        "--text", "a" * 100_000, "--prompt", assets["wavs"]["prompt"], "-o", str(tmp_path / "o.wav")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.splitlines() if "max_text_chars" in ln]
    assert len(lines) == 1 and "100000 characters" in lines[0], p.stderr
    assert not (tmp_path / "o.wav").exists()
