"""The `singing` reader: <utt>.wav + <utt>.txt lyrics + <utt>.mid / .musicxml, optional utt2spk."""

import os

import numpy as np
import pretty_midi

from pipelines.sources import DatasetEntry, read_dataset
from uniaudio.audio import write_audio

MUSICXML = """<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="3.1"><part-list><score-part id="P1"><part-name>Voice</part-name></score-part></part-list>
<part id="P1"><measure number="1"><attributes><divisions>1</divisions></attributes>
<note><pitch><step>C</step><octave>4</octave></pitch><duration>4</duration><type>whole</type>
<lyric><text>la</text></lyric></note></measure></part></score-partwise>
"""


def tone(path, freq=440.0, n=3200):
    write_audio(path, (0.1 * np.sin(2 * np.pi * freq * np.arange(n) / 16000)).astype("float32"))


def midi(path, pitches=(60, 62, 64)):
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=0)
    for i, p in enumerate(pitches):
        inst.notes.append(pretty_midi.Note(velocity=90, pitch=p, start=0.1 * i, end=0.1 * i + 0.1))
    pm.instruments.append(inst)
    pm.write(str(path))


def read(root, **options):
    return read_dataset(DatasetEntry(name="sing", reader="singing", root=str(root), tasks=["svs"], options=options))


def codes(res):
    return sorted(((p.utt_id or ""), p.code) for p in res.problems)


def test_singing_folder(tmp_path):
    root = tmp_path / "opencpop"
    tone(root / "song1.wav")
    (root / "song1.txt").write_text("twinkle twinkle\nlittle star\n")
    midi(root / "song1.mid")
    tone(root / "album" / "song2.flac")
    (root / "album" / "song2.txt").write_text("la la")
    (root / "album" / "song2.musicxml").write_text(MUSICXML)
    tone(root / "song3.wav")
    (root / "song3.txt").write_text("no score here")               # broken: missing notes
    tone(root / "song4.wav")
    midi(root / "song4.mid")                                        # broken: missing lyrics
    tone(root / "song5.wav")
    (root / "song5.txt").write_text("empty score")
    (root / "song5.mid").write_bytes(b"")                           # broken: empty score file
    (root / "orphan.txt").write_text("lyrics without audio")
    tone(tmp_path / "elsewhere.wav")
    os.symlink(tmp_path / "elsewhere.wav", root / "song6.wav")
    (root / "utt2spk").write_text("song1 singerA\nsong2 singerB\nbroken line here\n")
    res = read(root, speaker="default")
    assert [(r.utt_id, r.lyrics, r.speaker, os.path.basename(r.notes_uri)) for r in res.rows] == [
        ("song1", "twinkle twinkle little star", "singerA", "song1.mid"),
        ("song2", "la la", "singerB", "song2.musicxml")]
    assert all(r.text is None and r.audio_uri.startswith(str(root)) for r in res.rows)
    assert codes(res) == sorted([("song3", "missing_notes"), ("song4", "missing_lyrics"), ("song5", "missing_notes"),
                                 ("orphan", "missing_audio"), ("song6", "path_escape"), ("broken", "malformed_line")])
    loose = read(root, require_notes=False, require_lyrics=False)
    assert {r.utt_id: r.speaker for r in loose.rows} == {"song1": "singerA", "song2": "singerB", "song3": None,
                                                         "song4": None}  # song5's empty score stays a problem
    # The score is part of the fingerprint: editing the MIDI changes only that row.
    before = {r.utt_id: r.fingerprint for r in res.rows}
    st = os.stat(root / "song1.mid")
    midi(root / "song1.mid", pitches=(60, 67, 72, 74))
    os.utime(root / "song1.mid", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    after = {r.utt_id: r.fingerprint for r in read(root, speaker="default").rows}
    assert after["song1"] != before["song1"] and after["song2"] == before["song2"]
