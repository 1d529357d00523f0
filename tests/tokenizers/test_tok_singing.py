"""Singing: MIDI / MusicXML melodies rasterised to the 50 Hz grid with lyric phones."""

import itertools

import numpy as np
import pytest

from uniaudio.tokenizers import REST, SingConfig, SingInput, SingTokenizer, TokenizeError
from uniaudio.tokenizers.score import Note, monophonic, read_notes
from uniaudio.tokenizers.singing import allocate, syllabify

# "Twinkle twinkle little star": C C G G A A G (quarters, last a half) at 120 qpm -> 25 / 50 frames.
MELODY = [(60, 1), (60, 1), (67, 1), (67, 1), (69, 1), (69, 1), (67, 2)]
SYLLABLES = ["Twin", "kle", "twin", "kle", "lit", "tle", "star"]
LYRICS = "Twinkle, twinkle, little star"


def write_midi(path, melody=MELODY, tempo=120.0, lyrics=None):
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    inst = pretty_midi.Instrument(program=0)
    beat, t = 60.0 / tempo, 0
    for i, (pitch, beats) in enumerate(melody):
        inst.notes.append(pretty_midi.Note(velocity=90, pitch=pitch, start=t * beat, end=(t + beats) * beat))
        if lyrics and lyrics[i]:
            pm.lyrics.append(pretty_midi.Lyric(lyrics[i], t * beat))
        t += beats
    pm.instruments.append(inst)
    pm.write(str(path))
    return path


def write_musicxml(path, melody=MELODY, tempo=120, lyrics=SYLLABLES):
    import music21

    s = music21.stream.Stream()
    s.append(music21.tempo.MetronomeMark(number=tempo))
    for (pitch, beats), ly in zip(melody, lyrics):
        n = music21.note.Note(pitch, quarterLength=beats)
        if ly:
            n.lyric = ly
        s.append(n)
    s.write("musicxml", str(path))
    return path


def runs(seq):
    return [(k, len(list(g))) for k, g in itertools.groupby(seq)]


def test_midi_rasterisation_exact_frames(tmp_path):
    tok = SingTokenizer()
    out = tok.tokenize(SingInput(str(write_midi(tmp_path / "tw.mid")), LYRICS))
    assert len(out.midi_ids) == 200 and out.n_notes == 7 and out.n_syllables == 7
    # Repeated pitches join in the MIDI stream; per-note counts come from the note boundaries.
    assert runs(out.midi_ids.tolist()) == [(60, 50), (67, 50), (69, 50), (67, 50)]
    phones = tok.inventory.decode(out.phone_ids)
    assert runs(phones[:25]) == [("T", 3), ("W", 3), ("IH", 16), ("NG", 3)]  # "twin" on note 1: 25 frames
    assert runs(phones[150:200]) == [("S", 3), ("T", 3), ("AA", 41), ("R", 3)]  # "star" on the half note
    assert out.phone_ids.dtype == np.int16 and out.n_dropped_phones == 0 and not out.unk


def test_tempo_and_audio_length(tmp_path):
    tok = SingTokenizer()
    slow = tok.tokenize(SingInput(str(write_midi(tmp_path / "slow.mid", tempo=100.0)), LYRICS, num_frames=300))
    # 100 qpm: a quarter = 0.6 s = 30 frames, the final half note 60 frames; then rest to the audio end.
    assert runs(slow.midi_ids.tolist()) == [(60, 60), (67, 60), (69, 60), (67, 60), (REST, 60)]
    assert tok.inventory.decode(slow.phone_ids[-60:]) == ["SP"] * 60
    short = tok.tokenize(SingInput(str(write_midi(tmp_path / "tw.mid")), LYRICS, num_frames=180))
    assert len(short.phone_ids) == 180 and short.n_truncated_frames == 20


def test_musicxml_matches_midi_and_melisma(tmp_path):
    tok = SingTokenizer()
    midi = tok.tokenize(SingInput(str(write_midi(tmp_path / "tw.mid")), LYRICS))
    xml = tok.tokenize(SingInput(str(write_musicxml(tmp_path / "tw.musicxml")), LYRICS))
    assert np.array_equal(midi.midi_ids, xml.midi_ids) and np.array_equal(midi.phone_ids, xml.phone_ids)
    # "Ah" sung over three notes (a melisma: only the first note carries the lyric).
    mel = tok.tokenize(SingInput(str(write_musicxml(tmp_path / "m.musicxml", MELODY[:3], lyrics=["Ah", None, None])), "ah"))
    assert mel.n_notes == 3 and runs(tok.inventory.decode(mel.phone_ids)) == [("AA", 75)]
    assert runs(mel.midi_ids.tolist()) == [(60, 50), (67, 25)]


def test_midi_lyric_events_mark_syllables(tmp_path):
    marks = ["Ah", None, None, "oh", None, None, None]
    path = write_midi(tmp_path / "ly.mid", lyrics=marks)
    notes = read_notes(path)
    assert [n.syllable_start for n in notes] == [True, False, False, True, False, False, False]
    out = SingTokenizer().tokenize(SingInput(str(path), "ah oh"))
    assert runs(SingTokenizer().inventory.decode(out.phone_ids)) == [("AA", 75), ("OW", 125)]


def test_more_syllables_than_notes_share_frames():
    notes = [Note(0.0, 0.5, 60), Note(0.5, 1.0, 62)]
    out = SingTokenizer().tokenize(SingInput(notes, "I am the one", num_frames=50))
    phones = SingTokenizer().inventory.decode(out.phone_ids)
    assert out.n_syllables == 4 and "SP" not in phones
    assert [k for k, _ in runs(phones)] == ["AY", "AE", "M", "DH", "AH", "W", "AH", "N"]


def test_syllabify_and_allocate():
    assert syllabify(["T", "W", "IH", "NG", "K", "AH", "L"]) == [(["T", "W"], "IH", ["NG"]), (["K"], "AH", ["L"])]
    assert syllabify(["L", "IH", "T", "AH", "L"]) == [(["L"], "IH", []), (["T"], "AH", ["L"])]
    assert syllabify(["HH", "M"]) == [(["HH"], "M", [])]
    assert allocate(10, (["S", "T"], "AA", ["R"]), 3) == (["S"] + ["T"] + ["AA"] * 7 + ["R"], 0)  # cons <= half
    assert allocate(3, (["S", "T"], "AA", ["R", "Z"]), 3) == (["S", "T", "AA"], 2)  # too short: drop coda
    assert allocate(0, ([], "AA", []), 3) == ([], 1)


def test_monophonic_reduction():
    chord_and_overlap = [Note(0, 1, 60), Note(0, 1, 64), Note(0.5, 1.5, 67)]
    assert monophonic(chord_and_overlap) == [Note(0, 0.5, 64), Note(0.5, 1.5, 67)]


def test_singing_errors(tmp_path):
    tok = SingTokenizer()
    with pytest.raises(TokenizeError) as err:
        tok.tokenize(SingInput(str(write_midi(tmp_path / "a.mid")), "  "))
    assert err.value.reason == "empty_text"
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not a midi file")
    with pytest.raises(TokenizeError) as err:
        tok.tokenize(SingInput(str(bad), "la"))
    assert err.value.reason == "bad_notes"
    with pytest.raises(TokenizeError) as err:
        tok.tokenize(SingInput(str(tmp_path / "song.abc"), "la"))
    assert err.value.reason == "bad_notes"
    empty = write_midi(tmp_path / "empty.mid", melody=[])
    with pytest.raises(TokenizeError) as err:
        tok.tokenize(SingInput(str(empty), "la"))
    assert err.value.reason == "no_notes"


def test_sing_version():
    assert SingTokenizer().version == SingTokenizer().version
    assert SingTokenizer(SingConfig(consonant_frames=2)).version != SingTokenizer().version
