"""Simulation invariants (SNR, sums, RIR lengths, determinism, enrolment) and the wav+manifest driver."""

import json

import numpy as np
import pytest

from pipelines.simulate import (
    SimulationConfig,
    audio_edit,
    energy_ratio_db,
    fit_length,
    instruction_for,
    main,
    mix_at_snr,
    pick_edit_span,
    pick_enrolment,
    proportional_word_times,
    render_rir,
    reverberate,
    sample_rir_params,
    simulate,
    write_spec,
)
from pipelines.sources import DatasetEntry, ManifestRow, load_dataset_spec, read_dataset, read_spec
from uniaudio.audio import load_audio, write_audio


def voice(seed, n=8000, f0=120.0):
    """A speech-like test signal: harmonics under a syllable-rate envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 6))
    return (0.2 * x * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)


def noise(seed, n=6000):
    return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


# ------------------------------------------------------------------ pure functions
@pytest.mark.parametrize("snr", [-5.0, 0.0, 7.5, 20.0])
@pytest.mark.parametrize("noise_len", [3000, 8000, 20000])  # looped, equal, cropped
def test_mix_at_snr(snr, noise_len):
    m = mix_at_snr(voice(1), noise(2, noise_len), snr, np.random.default_rng(3))
    assert abs(energy_ratio_db(m.target, m.interference) - snr) < 0.5
    assert abs(energy_ratio_db(m.target, m.interference) - snr) < 1e-3  # in fact exact
    assert m.mixture.dtype == np.float32 and m.mixture.shape == (8000,)
    np.testing.assert_array_equal(m.mixture, m.target + m.interference)


def test_peak_protection_keeps_ratio_and_sum():
    loud = voice(1) * 4.5  # peaks well above 1
    m = mix_at_snr(loud, noise(2) * 3, -3.0, np.random.default_rng(0))
    assert m.scale < 1 and np.max(np.abs(m.mixture)) <= 0.99 + 1e-6
    assert abs(energy_ratio_db(m.target, m.interference) + 3.0) < 1e-3
    np.testing.assert_array_equal(m.mixture, m.target + m.interference)
    np.testing.assert_allclose(m.target, loud * m.scale, rtol=1e-6)


def test_fit_length_modes_and_errors():
    x = np.arange(1, 5, dtype=np.float32)
    looped, off = fit_length(x, 10, np.random.default_rng(0), "loop")
    assert len(looped) == 10 and np.array_equal(looped, np.tile(x, 4)[off:off + 10])
    padded, off = fit_length(x, 10, np.random.default_rng(0), "pad")
    assert np.array_equal(padded[-off:-off + 4], x) and padded.sum() == x.sum()
    with pytest.raises(ValueError, match="silent"):
        mix_at_snr(voice(1), np.zeros(100, np.float32), 5.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="non-silent"):
        mix_at_snr(np.zeros(100, np.float32), noise(1), 5.0, np.random.default_rng(0))


def test_determinism_from_seed():
    a = mix_at_snr(voice(1), noise(2, 20000), 5.0, np.random.default_rng(42))
    b = mix_at_snr(voice(1), noise(2, 20000), 5.0, np.random.default_rng(42))
    c = mix_at_snr(voice(1), noise(2, 20000), 5.0, np.random.default_rng(43))
    assert np.array_equal(a.mixture, b.mixture) and a.offset == b.offset and not np.array_equal(a.mixture, c.mixture)
    assert sample_rir_params(np.random.default_rng(5)) == sample_rir_params(np.random.default_rng(5))


def test_enrolment_is_never_the_target():
    pool = [ManifestRow("d", f"{spk}_{i}", f"/{spk}_{i}.wav", speaker=spk) for spk in "abc" for i in range(3)]
    # The same audio span as the target under another id must not be picked either.
    pool.append(ManifestRow("d", "a_0_copy", "/a_0.wav", speaker="a"))
    for seed in range(200):
        rng = np.random.default_rng(seed)
        target = pool[int(rng.integers(0, 9))]
        enrol = pick_enrolment(target, pool, rng)
        assert enrol.speaker == target.speaker and enrol.utt_id != target.utt_id
        assert enrol.audio_uri != target.audio_uri
    with pytest.raises(ValueError, match="no other utterance"):
        pick_enrolment(ManifestRow("d", "z", "/z.wav", speaker="z"), pool, np.random.default_rng(0))


def test_rir_and_reverberation_lengths():
    import pyroomacoustics as pra

    p = sample_rir_params(np.random.default_rng(1), rt60_range=(0.3, 0.4))
    assert all(0.5 <= s <= d - 0.5 and 0.5 <= m <= d - 0.5 for s, m, d in zip(p.source, p.mic, p.room_dim))
    rir = render_rir(p)
    assert rir[0] == 1.0 and int(np.argmax(np.abs(rir[:50]))) == 0  # direct path first, unit gain
    measured = pra.experimental.measure_rt60(rir, fs=16000)
    assert p.rt60 / 2 < measured < p.rt60 * 2  # Sabine vs image-source: same ballpark
    clean = voice(3)
    full = reverberate(clean, rir, "full")
    same = reverberate(clean, rir, "same")
    assert len(full) == len(clean) + len(rir) - 1 and len(same) == len(clean)
    np.testing.assert_array_equal(same, full[: len(clean)])
    # Aligned with the dry target: wet white noise correlates best with the dry one at lag 0.
    white = noise(9, 8000)
    wet = reverberate(white, rir, "same")
    lags = [float(np.dot(wet[k:], white[: len(white) - k])) for k in range(0, 40)]
    assert int(np.argmax(np.abs(rir))) == 0 and int(np.argmax(lags)) == 0
    with pytest.raises(ValueError, match="too small"):
        sample_rir_params(np.random.default_rng(0), dims_range=((0.8, 0.9), (3, 4), (3, 4)))


@pytest.mark.parametrize("op", ["add", "drop"])
def test_audio_edit_pairs(op):
    bg, ev = noise(1, 8000), voice(2, 3000, f0=600.0)
    e = audio_edit(bg, ev, "A dog barking.", op, 3.0, np.random.default_rng(0))
    np.testing.assert_array_equal(e.with_event, e.background + e.event)
    if op == "add":
        assert e.instruction == "Add the sound of a dog barking" and np.array_equal(e.source, e.background)
    else:
        assert e.instruction == "Remove the sound of a dog barking" and np.array_equal(e.target, e.background)
    assert abs(energy_ratio_db(e.event, e.background) - 3.0) < 1e-3
    start = int(round(e.offset_s * 16000))
    assert np.count_nonzero(e.event[:start]) == 0 and np.count_nonzero(e.event[start + 3000:]) == 0


def test_speech_edit_spans():
    words = "the quick brown fox jumps".split()
    times = proportional_word_times(words, 2.0)
    assert times[0][0] == 0.0 and times[-1][1] == pytest.approx(2.0)
    assert times[1][1] - times[1][0] == pytest.approx(2.0 * 5 / 21)  # "quick" = 5 of 21 letters
    seen = set()
    for seed in range(50):
        s = pick_edit_span(words, 2.0, np.random.default_rng(seed))
        assert 1 <= len(s.words) <= 2 and list(s.words) == words[s.first_word:s.end_word]
        assert (s.start_s, s.end_s) == (times[s.first_word][0], times[s.end_word - 1][1])
        assert s.start_frame == int(np.floor(s.start_s * 50 + 1e-9)) and s.end_frame == int(np.ceil(s.end_s * 50 - 1e-9))
        seen.add(len(s.words))
    assert seen == {1, 2}
    aligned = [(0.1, 0.3), (0.35, 0.6), (0.6, 0.9), (1.0, 1.2), (1.3, 1.8)]
    s = pick_edit_span(words, 2.0, np.random.default_rng(0), timings=aligned)
    assert s.timing == "alignment" and s.start_s == aligned[s.first_word][0]
    whole = pick_edit_span(["hello", "there"], 1.0, np.random.default_rng(0))
    assert (whole.first_word, whole.end_word, whole.start_frame, whole.end_frame) == (0, 2, 0, 50)
    with pytest.raises(ValueError, match="timings"):
        pick_edit_span(words, 2.0, np.random.default_rng(0), timings=aligned[:2])


# ------------------------------------------------------------------ driver
@pytest.fixture
def sources(tmp_path):
    src = tmp_path / "src"
    speech = []
    for s, spk in enumerate(["s1", "s2", "s3"]):
        for i in range(2):
            p = src / "speech" / f"{spk}_{i}.wav"
            write_audio(p, voice(10 * s + i, 8000 + 800 * i, f0=100 + 40 * s))
            text = f"word{s} number {i} here now"  # word times as a synthesizer reports them (real speech: the aligner)
            times = [list(t) for t in proportional_word_times(text.split(), (8000 + 800 * i) / 16000)]
            speech.append(ManifestRow("speech", f"{spk}_{i}", str(p), text=text, speaker=spk, extra={"word_times": times}))
    noises, events = [], []
    for i in range(2):
        p = src / "noise" / f"n{i}.wav"
        write_audio(p, noise(100 + i, 5000 + 3000 * i))
        noises.append(ManifestRow("noise", f"n{i}", str(p)))
        p = src / "events" / f"e{i}.wav"
        write_audio(p, voice(200 + i, 3000, f0=700.0))
        events.append(ManifestRow("events", f"e{i}", str(p), caption=["A dog barking", "A bell ringing"][i]))
    return speech, noises, events


def small_cfg(**kw):
    counts = {t: {"count": 3} for t in ("se", "tse", "dereverb", "audio_edit", "speech_edit")}
    counts["dereverb"].update(rt60_s=(0.2, 0.3), room_x_m=(3, 4), room_y_m=(3, 4))
    counts["audio_edit"].update(ops=["add", "drop"])  # the AUDIT edits: tests/pipelines/test_audit_edits.py
    return SimulationConfig(seed=7, **{**counts, **kw})


def test_driver_writes_readable_consistent_pairs(tmp_path, sources):
    speech, noises, events = sources
    manifests, problems = simulate(tmp_path / "out", small_cfg(), speech, noises, events)
    assert problems == [] and sorted(manifests) == ["audio_edit", "dereverb", "se", "speech_edit", "tse"]
    spec = load_dataset_spec(write_spec(manifests, tmp_path / "out"))
    res = read_spec(spec)
    assert res.problems == [] and len(res.rows) == 15
    rows = {r.utt_id: r for r in res.rows}
    q = 2.0 / 32768  # PCM_16 rounding of each written part
    for i in range(3):
        se = rows[f"se-{i:06d}"]
        clean, mix, nz = (load_audio(u) for u in (se.audio_uri, se.paired["source"], se.paired["noise"]))
        assert abs(energy_ratio_db(clean, nz) - se.extra["snr_db"]) < 0.5
        assert -5 <= se.extra["snr_db"] <= 20 and se.speaker is not None and se.text
        np.testing.assert_allclose(mix, clean + nz, atol=2 * q)
        tse = rows[f"tse-{i:06d}"]
        assert tse.extra["enrolment_utt"] != tse.extra["clean_utt"]
        assert tse.extra["enrolment_utt"].split("_")[0] == tse.speaker != tse.extra["interference_utt"].split("_")[0]
        tgt, mix, inter = (load_audio(tse.paired[k]) if k != "t" else load_audio(tse.audio_uri) for k in ("t", "source", "interference"))
        np.testing.assert_allclose(mix, tgt + inter, atol=2 * q)
        assert abs(energy_ratio_db(tgt, inter) - tse.extra["sir_db"]) < 0.5
        enrol_src = next(r for r in speech if r.utt_id == tse.extra["enrolment_utt"])
        np.testing.assert_allclose(load_audio(tse.paired["enrolment"]), load_audio(enrol_src.audio_uri), atol=q)
        dr = rows[f"dereverb-{i:06d}"]
        dry, wet = load_audio(dr.audio_uri), load_audio(dr.paired["source"])
        assert len(dry) == len(wet) and dr.extra["rir"]["rir_len"] > 0 and 0.2 <= dr.extra["rir"]["rt60"] <= 0.3
        ae = rows[f"audio_edit-{i:06d}"]
        assert ae.extra["label"] in ("A dog barking", "A bell ringing")
        assert ae.instruction == instruction_for(ae.extra["op"], ae.extra["label"])
        assert ae.instruction.startswith(("Add the sound of a ", "Remove the sound of a "))
        with_event = load_audio(ae.audio_uri if ae.extra["op"] == "add" else ae.paired["source"])
        without = load_audio(ae.paired["source"] if ae.extra["op"] == "add" else ae.audio_uri)
        np.testing.assert_allclose(with_event, without + load_audio(ae.paired["event"]), atol=2 * q)
        sp = rows[f"speech_edit-{i:06d}"]
        span = sp.extra["edit_span"]
        assert 1 <= len(span["words"]) <= 2 and span["timing"] == "alignment" and sp.paired == {}
        assert " ".join(span["words"]) in sp.text and 0 <= span["start_frame"] < span["end_frame"]


def test_driver_is_deterministic_and_reports_unusable_sources(tmp_path, sources):
    speech, noises, events = sources
    cfg = small_cfg(dereverb={"count": 0})
    m1, _ = simulate(tmp_path / "a", cfg, speech, noises, events)
    m2, _ = simulate(tmp_path / "b", cfg, speech, noises, events)
    for task in m1:
        assert m1[task].read_bytes() == m2[task].read_bytes()
        for wav in sorted((tmp_path / "a" / task / "wav").iterdir()):
            assert wav.read_bytes() == (tmp_path / "b" / task / "wav" / wav.name).read_bytes()
    other, _ = simulate(tmp_path / "c", cfg.model_copy(update={"seed": 8}), speech, noises, events)
    assert other["se"].read_bytes() != m1["se"].read_bytes()
    # Each item's recorded seed re-creates it regardless of which other tasks ran.
    only_se, _ = simulate(tmp_path / "d", SimulationConfig(seed=7, se={"count": 3}), speech, noises, events)
    assert only_se["se"].read_bytes() == m1["se"].read_bytes()
    # A speaker with a single utterance cannot be a TSE target: reported, not silently skipped.
    lonely = [ManifestRow("speech", "solo", speech[0].audio_uri, speaker="solo"), speech[2]]
    _, problems = simulate(tmp_path / "e", SimulationConfig(seed=1, tse={"count": 6}), lonely)
    assert problems and all(p.code == "simulation_failed" and "no other utterance" in p.reason for p in problems)
    lines = [json.loads(x) for x in (tmp_path / "e" / "tse" / "manifest.jsonl").read_text().splitlines()]
    assert len(lines) + len(problems) == 6
    with pytest.raises(ValueError, match="non-empty second source pool"):
        simulate(tmp_path / "f", SimulationConfig(se={"count": 1}), speech, [])


def test_cli_entry(tmp_path, sources):
    speech, noises, _ = sources
    root = tmp_path / "src"
    with open(root / "speech.jsonl", "w") as f:
        for r in speech:
            f.write(json.dumps({"utt_id": r.utt_id, "audio": r.audio_uri, "speaker": r.speaker, "text": r.text}) + "\n")
    with open(root / "noise.jsonl", "w") as f:
        for r in noises:
            f.write(json.dumps({"utt_id": r.utt_id, "audio": r.audio_uri}) + "\n")
    (tmp_path / "spec.yaml").write_text(
        "datasets:\n"
        "  - {name: sp, reader: manifest, root: src, tasks: [tts], options: {file: speech.jsonl}}\n"
        "  - {name: nz, reader: manifest, root: src, tasks: [se], options: {file: noise.jsonl}}\n")
    out = tmp_path / "sim"
    assert main([str(tmp_path / "spec.yaml"), str(out), "--speech", "sp", "--noise", "nz", "--set", "se.count=2"]) == 0
    res = read_dataset(DatasetEntry(name="x", reader="manifest", root=str(out / "se"), tasks=["se"]))
    assert len(res.rows) == 2 and not res.problems and (out / "simulated.yaml").is_file()
    assert main([str(tmp_path / "spec.yaml"), str(out), "--speech", "nope"]) == 2
