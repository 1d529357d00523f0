"""The five AUDIT audio edits (add, drop, replace, inpaint, super-resolution): each pair differs where its
instruction says and nowhere else, the driver and the recipes write them with their instructions, and each
yields a generation request."""

import json

import numpy as np
import pytest

from pipelines.simulation import audit
from pipelines.simulation.config import SimulationConfig
from pipelines.simulation.driver import simulate
from pipelines.simulation.edits import audio_edit
from pipelines.simulation.recipes import simulate_recipe
from pipelines.sources import DatasetEntry, ManifestRow, read_dataset
from uniaudio.audio import load_audio, write_audio
from workflows.kinds.requests import make_request

SR = 16000


def bed(seed, n=3 * SR):
    """A background with energy over the whole band: noise plus a low hum."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    return (0.05 * rng.standard_normal(n) + 0.1 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)


def chirp(seed, n=SR // 2, f=900.0):
    t = np.arange(n) / SR
    return (0.3 * np.sin(2 * np.pi * (f + 400 * seed) * t) * np.hanning(n)).astype(np.float32)


def span(region):
    return int(round(region[0] * SR)), int(round(region[1] * SR))


def outside_equal(e):
    a, b = span(e.region_s)
    return np.array_equal(e.source[:a], e.target[:a]) and np.array_equal(e.source[b:], e.target[b:])


@pytest.mark.parametrize("op", ["add", "drop"])
def test_add_drop_differ_by_the_event_only(op):
    e = audit.from_add_drop(audio_edit(bed(0), chirp(0), "A bell ringing", op, 0.0, np.random.default_rng(1)))
    a, b = span(e.region_s)
    assert b - a == SR // 2 - 2 and outside_equal(e)  # hanning window: its two end samples are zero
    diff = (e.target - e.source) * (1 if op == "add" else -1)
    assert np.abs(diff[a:b]).max() > 0.05 and e.instruction.split()[0] in ("Add", "Remove")


def test_replace_swaps_the_event_at_the_same_place_and_ratio():
    rng = np.random.default_rng(2)
    e = audit.replace(bed(1), chirp(0), chirp(1, n=SR), "Laughter.", "A trumpet", 3.0, rng)
    assert e.instruction == "Replace laughter to a trumpet" and outside_equal(e)
    a, b = span(e.region_s)
    assert b - a == SR // 2 - 2
    spec_src, spec_tgt = (np.abs(np.fft.rfft(x[a:b])) for x in (e.source, e.target))
    bins = np.fft.rfftfreq(b - a, 1 / SR)
    old, new = np.argmin(np.abs(bins - 900)), np.argmin(np.abs(bins - 1300))
    assert spec_src[old] > 5 * spec_tgt[old] and spec_tgt[new] > 5 * spec_src[new]  # A out, B in
    ev_a = np.sum((e.source[a:b] - e.target[a:b]) ** 2)
    assert ev_a > 0 and e.params["ebr_db"] == 3.0


def test_replace_crops_the_replacing_event_from_its_sound_not_its_silence():
    """A short event replaced by a long clip that is mostly digital silence (a sound effect with long
    padding): the crop comes from the clip's active part instead of skipping the row (the demo
    corpus's default build once died on such a draw)."""
    clip = np.zeros(4 * SR, dtype=np.float32)
    clip[3 * SR : 3 * SR + SR // 4] = chirp(1, n=SR // 4)
    short = chirp(0, n=SR // 20)
    for seed in range(20):  # many draws: without the fallback most land in the silence
        e = audit.replace(bed(1), short, clip, "A bell.", "A trumpet", 3.0, np.random.default_rng(seed))
        a, b = span(e.region_s)
        assert np.sum((e.source[a:b] - e.target[a:b]) ** 2) > 0 and outside_equal(e)
    with pytest.raises(audit.EditSkipped, match="replacing event is silent"):
        audit.replace(bed(1), short, np.zeros(SR, dtype=np.float32), "A bell.", "Silence", 3.0, np.random.default_rng(0))


def test_inpaint_masks_one_region_of_the_drawn_length():
    e = audit.inpaint(bed(2), np.random.default_rng(3), (0.5, 1.0))
    a, b = span(e.region_s)
    assert e.instruction == "Inpaint" and 0.5 * SR <= b - a <= SR and outside_equal(e)
    assert not np.any(e.source[a:b]) and np.abs(e.target[a:b]).max() > 0.05
    assert a >= 0.1 * len(e.target) and b <= 0.9 * len(e.target) + 1


def test_super_resolution_differs_above_the_cutoff_only():
    e = audit.super_resolution(bed(3), np.random.default_rng(4), (8000,))
    assert e.instruction == "Perform Super-resolution" and e.band_hz == (4000.0, 8000.0)
    s, t = np.abs(np.fft.rfft(e.source)), np.abs(np.fft.rfft(e.target))
    f = np.fft.rfftfreq(len(e.source), 1 / SR)
    low, high = f < 3500, f > 4500
    assert np.sum((s - t)[low] ** 2) < 0.01 * np.sum(t[low] ** 2)  # below the cutoff: the same audio
    assert np.sum(s[high] ** 2) < 0.001 * np.sum(t[high] ** 2)  # above it: gone from the source


def test_driver_makes_every_edit_with_its_instruction_and_a_request(tmp_path):
    bg_rows, ev_rows = [], []
    for i in range(2):
        write_audio(tmp_path / f"bg{i}.wav", bed(10 + i))
        bg_rows.append(ManifestRow("bg", f"bg{i}", str(tmp_path / f"bg{i}.wav")))
        write_audio(tmp_path / f"ev{i}.wav", chirp(i))
        ev_rows.append(ManifestRow("ev", f"ev{i}", str(tmp_path / f"ev{i}.wav"), caption=["A dog barking", "Rain"][i]))
    cfg = SimulationConfig(seed=3, audio_edit={"count": 25})
    manifests, problems = simulate(tmp_path / "sim", cfg, [], [], ev_rows, backgrounds=bg_rows)
    assert problems == []
    rows = read_dataset(DatasetEntry(name="sim_audio_edit", reader="manifest", root=str(manifests["audio_edit"].parent),
                                     tasks=["audio_edit"])).rows
    by_op = {}
    for r in rows:
        by_op.setdefault(r.extra["op"], r)
    assert sorted(by_op) == ["add", "drop", "inpaint", "replace", "super_resolution"]
    assert by_op["replace"].instruction in ("Replace a dog barking to rain", "Replace rain to a dog barking")
    assert by_op["inpaint"].instruction == "Inpaint" and by_op["super_resolution"].instruction == "Perform Super-resolution"
    q = 2.0 / 32768
    for op, r in by_op.items():
        src, tgt = load_audio(r.paired["source"]), load_audio(r.audio_uri)
        a, b = span(r.extra["region_s"])
        if op != "super_resolution":  # a time region: the same samples outside it (up to PCM rounding)
            assert np.abs(src[:a] - tgt[:a]).max(initial=0) <= q and np.abs(src[b:] - tgt[b:]).max(initial=0) <= q
            assert np.abs(src[a:b] - tgt[a:b]).max() > 0.02
        req = make_request("audio_edit", r, rows)
        assert req["instruction"] == r.instruction and req["source"] == r.paired["source"] and req["reference"] == r.audio_uri
    # eval_requests: five requests cover the five edits
    import yaml

    from workflows.kinds.requests import EvalRequestsStep, build_requests

    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"datasets": [{"name": "sim_audio_edit", "reader": "manifest", "tasks": ["audio_edit"],
                                                  "root": str(manifests["audio_edit"].parent)}]}))
    reqs, missing = build_requests(str(spec), EvalRequestsStep(per_task=5))
    op_of = {r.paired["source"]: r.extra["op"] for r in rows}
    assert not missing and sorted(op_of[q["source"]] for q in reqs) == ["add", "drop", "inpaint", "replace", "super_resolution"]


def test_recipes_by_name_write_instruction_and_own_target(tmp_path):
    write_audio(tmp_path / "clip.wav", bed(5))
    write_audio(tmp_path / "ev.wav", chirp(0))
    write_audio(tmp_path / "ev2.wav", chirp(1))
    rows = [ManifestRow("d", "c0", str(tmp_path / "clip.wav"))]
    params = {"add": {"event": str(tmp_path / "ev.wav"), "label": "A bell"},
              "replace": {"event": str(tmp_path / "ev.wav"), "label": "A bell", "new_event": str(tmp_path / "ev2.wav"),
                          "new_label": "A horn"},
              "inpaint": {"mask_min_s": 0.4, "mask_max_s": 0.4}, "super_resolution": {"rates": "4000"}}
    for name, p in params.items():
        path, problems = simulate_recipe(name, rows, tmp_path / name, p)
        rec = json.loads(path.read_text().splitlines()[0])
        assert problems == [] and rec["instruction"] and rec["extra"]["op"] == name
        tgt, src = load_audio(str(path.parent / rec["audio"])), load_audio(str(path.parent / rec["paired"]["source"]))
        assert not np.allclose(tgt, src, atol=1e-3)
        if name == "add":  # its own target: the clip plus the event, not the row's audio
            assert rec["instruction"] == "Add the sound of a bell" and np.abs(tgt - load_audio(str(tmp_path / "clip.wav"))).max() > 0.05
    with pytest.raises(ValueError, match="needs --param event"):
        simulate_recipe("replace", rows, tmp_path / "bad", {})
