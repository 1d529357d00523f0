"""The embedded demo corpus (`uniaudio demo-corpus --small`): every task's inputs, readable, real, deterministic.

The corpus is built twice per session (once through the API, once through the CLI with the same
seed) and shared by the tests of this module.
"""

import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from pipelines.democorpus import MARKER, SMALL, DemoCorpusConfig, _prepare_out, build_demo_corpus, plan_raw
from pipelines.demo import common
from pipelines.demo.speech import align_words
from pipelines.sources import load_dataset_spec, read_spec
from uniaudio.audio import AudioLimits, check_audio, load_audio
from uniaudio.cli import main
from uniaudio.errors import UserFacingError
from uniaudio.tasks import TASKS

ALL_TASKS = {"tts", "vc", "svs", "se", "tse", "text_to_sound", "text_to_music", "speech_edit", "audio_edit",
             "instruct_tts", "dereverb", "plain_tts", "asr", "sv"}
SPEAKER_TASKS = {"tts", "vc", "sv", "svs"}  # a prompt / trial needs another utterance of the same speaker


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "corpus"
    report = build_demo_corpus(out, DemoCorpusConfig(small=True, sizes=SMALL, seed=0, workers=2))
    return out, report


@pytest.fixture(scope="module")
def rows(corpus):
    out, _ = corpus
    spec = load_dataset_spec(out / "datasets.yaml")
    res = read_spec(spec)
    return spec, res


def _by_dataset(res):
    out = {}
    for r in res.rows:
        out.setdefault(r.dataset, []).append(r)
    return out


def test_spec_reads_with_zero_problems(corpus, rows):
    out, report = corpus
    spec, res = rows
    assert res.problems == []
    counts = Counter(r.dataset for r in res.rows)
    assert {d.name: d.rows for d in report.datasets} == dict(counts)
    for entry in spec.datasets:  # roots are relative in the file and resolve inside the corpus
        assert Path(entry.root).is_relative_to(out.resolve())
        assert counts[entry.name] >= 2, entry.name
    assert "total" in report.table() and "sim_tse" in report.table()
    assert (out / MARKER).is_file()


def test_every_task_has_a_dataset(rows):
    spec, _ = rows
    covered = {t for d in spec.datasets for t in d.tasks}
    assert covered == ALL_TASKS == set(TASKS)


def test_audio_is_16k_mono_and_not_silent(rows):
    _, res = rows
    uris = {u for r in res.rows for u in r.uris() if not u.endswith(".mid")}
    assert len(uris) > 60
    for uri in sorted(uris):
        info = sf.info(uri)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16"), uri
        wav = load_audio(uri)
        check_audio(uri, wav, limits=AudioLimits(min_s=0.5, max_s=30.0, silence_dbfs=-50.0))


def test_text_fields_match_the_tasks(rows):
    spec, res = rows
    by = _by_dataset(res)
    for entry in spec.datasets:
        for r in by[entry.name]:
            tasks = set(entry.tasks)
            if tasks & {"tts", "plain_tts", "asr", "instruct_tts", "speech_edit"}:
                assert r.text and r.text.strip(), r.utt_id
            if tasks & {"text_to_sound", "text_to_music"}:
                assert r.caption and len(r.caption.split()) >= 3, r.utt_id
            if tasks & {"instruct_tts", "audio_edit"}:
                assert r.instruction and r.instruction.strip(), r.utt_id
            if tasks & {"se", "tse", "dereverb", "audio_edit"}:
                assert "source" in r.paired, r.utt_id


def test_speakers_have_at_least_two_utterances(rows):
    spec, res = rows
    by = _by_dataset(res)
    for entry in spec.datasets:
        if set(entry.tasks) & SPEAKER_TASKS:
            per = Counter(r.speaker for r in by[entry.name])
            assert None not in per and len(per) >= 2, entry.name
            assert min(per.values()) >= 2, (entry.name, per)
    for r in by["sim_tse"]:  # the enrolment is another utterance of the target speaker, never the target
        assert r.extra["enrolment_utt"] != r.extra["clean_utt"] and "enrolment" in r.paired


def test_singing_notes_line_up_with_the_audio(rows):
    _, res = rows
    sung = _by_dataset(res)["singing"]
    assert len({r.speaker for r in sung}) == 2
    for r in sung:
        pm = pretty_midi.PrettyMIDI(r.notes_uri)
        notes = pm.instruments[0].notes
        words = [ly.text for ly in pm.lyrics if ly.text != "-"]
        assert words == r.lyrics.split()  # one lyric event per word, on its first note
        assert len(notes) == len(pm.lyrics) >= len(words)
        assert all(40 <= n.pitch <= 72 for n in notes)  # moved into the (male) voices' range
        assert abs(pm.get_end_time() - sf.info(r.audio_uri).duration) < 1.0


def test_music_captions_state_the_rendered_facts(rows):
    _, res = rows
    music = _by_dataset(res)["music"]
    assert {r.extra["kind"] for r in music} == {"chorale", "folk"}
    for r in music:
        assert r.extra["key"] in r.caption
        assert len(pretty_midi.PrettyMIDI(r.notes_uri).instruments) >= 1


def test_instruction_styles_are_rendered(rows):
    _, res = rows
    for r in _by_dataset(res)["instruct_speech"]:
        level = 20 * np.log10(np.sqrt(np.mean(np.square(load_audio(r.audio_uri), dtype=np.float64))))
        target = -22.0 + r.extra["gain_db"]
        assert level <= target + 0.5 and level >= target - 4.0, (r.utt_id, level)  # "loud" may be peak-capped
        if r.extra["style"]["volume"] == "soft":
            assert level < -30


def test_speech_edit_spans_use_festival_word_times(rows):
    _, res = rows
    for r in _by_dataset(res)["sim_speech_edit"]:
        span = r.extra["edit_span"]
        assert span["timing"] == "alignment"
        assert 1 <= len(span["words"]) <= 2 and span["words"] == r.text.split()[span["first_word"]:span["end_word"]]


def test_align_words_merges_festival_pieces():
    pieces = [("Please", 0.2, 0.5), ("re", 0.5, 0.8), ("enter", 0.8, 1.0), ("party", 1.0, 1.5), ("'s", 0.0, 0.0)]
    assert align_words("Please re-enter party's", pieces) == [(0.2, 0.5), (0.5, 1.0), (1.0, 1.5)]
    assert align_words("Please enter", pieces[:1]) is None


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_through_the_cli(corpus, tmp_path, capsys):
    out, _ = corpus
    again = tmp_path / "again"
    assert main(["demo-corpus", str(again), "--small", "--seed", "0"]) == 0
    printed = capsys.readouterr().out
    assert "sim_speech_edit" in printed and "hours" in printed
    a, b = _digest(out), _digest(again)
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []  # manifests, transcripts and audio all identical
    info = json.loads((again / "build.json").read_text())
    assert info["seed"] == 0 and info["small"] is True and info["sizes"]["sfx"] == SMALL.sfx


def test_seed_changes_the_selection(tmp_path):
    picks = {}
    for seed in (0, 1):
        cfg = DemoCorpusConfig(small=True, sizes=SMALL, seed=seed)
        plans = plan_raw(tmp_path / f"s{seed}", cfg)
        picks[seed] = [it["utt_id"] for name in ("real_speech", "music", "sfx") for it, _ in plans[name]]
    assert picks[0] != picks[1]


def test_refuses_a_folder_that_is_not_a_demo_corpus(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(UserFacingError, match="not a demo corpus"):
        build_demo_corpus(tmp_path, DemoCorpusConfig(small=True, sizes=SMALL))
    assert (tmp_path / "precious.txt").read_text() == "keep me"
    # A previous demo corpus (it carries the marker) is cleared and rebuilt instead.
    old = tmp_path / "old"
    (old / "music" / "wav").mkdir(parents=True)
    (old / MARKER).write_text("")
    (old / "music" / "wav" / "stale.wav").write_text("x")
    _prepare_out(old)
    assert sorted(p.name for p in old.rglob("*")) == [MARKER]


def test_missing_package_is_named(monkeypatch):
    monkeypatch.setitem(common.SOURCES, "soundfont", ("/nonexistent/FluidR3_GM.sf2", "fluid-soundfont-gm"))
    with pytest.raises(UserFacingError, match="fluid-soundfont-gm"):
        common.check_sources(["soundfont", "flite"])
