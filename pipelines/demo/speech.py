"""Speech of the demo corpus: real recorded prompts, synthetic voices as speakers, styled speech.

* ``real_speech`` (kaldi): the Asterisk prompts (one professional speaker, 8 kHz telephone
  recordings upsampled to 16 kHz) and the pocketsphinx test sets (a LibriVox reader at 16 kHz, and
  the "cards" test utterances), each with its shipped transcript.
* ``synth_speech`` (kaldi): sentences of the prompt list read by several offline synthesizer voices
  (flite, festival, espeak-ng); each voice is one speaker, and every voice reads several sentences,
  so TTS prompts, VC and TSE have other utterances of the same speaker to draw on.
* ``instruct_speech`` (manifest): sentences rendered in a style the synthesizer controls directly
  (speaking rate, pitch, loudness) with the matching instruction text ("Speak slowly in a low voice").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from pipelines.demo.common import Job, ScratchDir, finish_array, finish_file, rng_for, run_tool, source_path
from pipelines.demo.texts import asterisk_transcripts, clean_sentence, sentence_pool, sphinx_transcription, spoken

LEVEL_DBFS = -22.0  # every speech file is normalised to this RMS level before any style gain


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: the engine, its voice name, and what an instruction may say about it."""

    speaker: str
    engine: str  # flite | festival | espeak
    voice: str
    gender: str  # female | male (as the voice is documented)
    base_f0: float  # typical f0 in Hz; pitch styles are set relative to it (flite)
    small: bool = False  # part of the --small corpus


VOICES: tuple[Voice, ...] = (
    Voice("flite_slt", "flite", "slt", "female", 170.0, small=True),
    Voice("flite_kal", "flite", "kal16", "male", 95.0, small=True),
    Voice("flite_awb", "flite", "awb", "male", 125.0),
    Voice("flite_rms", "flite", "rms", "male", 105.0),
    Voice("festival_ked", "festival", "ked_diphone", "male", 110.0, small=True),
    Voice("espeak_us_f4", "espeak", "en-us+f4", "female", 180.0, small=True),
    Voice("espeak_us_m1", "espeak", "en-us", "male", 105.0),
    Voice("espeak_caribbean_f2", "espeak", "en-029+f2", "female", 195.0),
    Voice("espeak_scotland_m3", "espeak", "en-gb-scotland+m3", "male", 105.0),
    Voice("espeak_rp_m7", "espeak", "en-gb-x-rp+m7", "male", 108.0),
)
# Only flite and espeak-ng expose rate and pitch on the command line; they render the styled speech.
STYLE_ENGINES = ("flite", "espeak")


def voices(small: bool) -> list[Voice]:
    return [v for v in VOICES if v.small or not small]


def synthesize(engine: str, voice: str, text: str, wav_path: str, rate: float = 1.0, f0_hz: float | None = None,
               pitch_step: int = 0) -> list[tuple[str, float, float]] | None:
    """Run one synthesizer for ``text`` into ``wav_path`` (its native rate); festival also returns
    the word timings it synthesized (``[(word, start_s, end_s)]``), the others ``None``.

    ``rate`` > 1 speaks faster; ``f0_hz`` sets flite's mean f0; ``pitch_step`` (-1/0/+1) moves
    espeak-ng's 0-99 pitch setting down or up (it has no Hz control).
    """
    with ScratchDir() as tmp:
        txt = tmp / "in.txt"
        txt.write_text(text + "\n", encoding="utf-8")
        if engine == "flite":
            args = [source_path("flite"), "-voice", voice]
            if rate != 1.0:
                args += ["--setf", f"duration_stretch={1.0 / rate:.3f}"]
            if f0_hz is not None:
                args += ["--setf", f"int_f0_target_mean={f0_hz:.1f}"]
            run_tool(args + ["-f", str(txt), "-o", wav_path], f"flite {voice}: {text!r}")
        elif engine == "festival":
            return festival_say(voice, text, wav_path, rate, tmp)
        elif engine == "espeak":
            args = [source_path("espeak"), "-v", voice, "-s", str(int(round(170 * rate))), "-p", str(50 + 25 * pitch_step)]
            run_tool(args + ["-w", wav_path, "-f", str(txt)], f"espeak-ng {voice}: {text!r}")
        else:
            raise ValueError(f"unknown engine {engine!r}")
        if not os.path.getsize(wav_path):
            raise RuntimeError(f"demo corpus: {engine} {voice} wrote no audio for {text!r}")
        return None


def festival_say(voice: str, text: str, wav_path: str, rate: float, tmp: Path) -> list[tuple[str, float, float]]:
    """Festival in batch mode, so the same run also prints each word's start and end time."""
    quoted = text.replace("\\", " ").replace('"', '\\"')
    script = tmp / "say.scm"
    script.write_text(
        f"(voice_{voice})\n"
        + (f"(Parameter.set 'Duration_Stretch {1.0 / rate:.3f})\n" if rate != 1.0 else "")
        + f'(set! utt1 (Utterance Text "{quoted}"))\n(utt.synth utt1)\n(utt.save.wave utt1 "{wav_path}" \'riff)\n'
        + '(mapcar (lambda (w) (format t "W\\t%s\\t%f\\t%f\\n" (item.name w) (item.feat w "word_start") '
        + '(item.feat w "word_end"))) (utt.relation.items utt1 \'Word))\n',
        encoding="utf-8",
    )
    stdout = run_tool([source_path("festival"), "-b", str(script)], f"festival {voice}: {text!r}")
    words = []
    for line in stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and parts[0] == "W":
            words.append((parts[1], float(parts[2]), float(parts[3])))
    if not os.path.isfile(wav_path) or not os.path.getsize(wav_path):
        raise RuntimeError(f"demo corpus: festival {voice} wrote no audio for {text!r}")
    return words


def align_words(text: str, pieces: list[tuple[str, float, float]]) -> list[tuple[float, float]] | None:
    """Times of each whitespace word of ``text`` from festival's word items, which split some words
    ("re-enter" -> re, enter; "party's" -> party, 's). ``None`` when they cannot be matched up."""
    def letters(s: str) -> str:
        return "".join(c for c in s.lower() if c.isalnum())

    out, i = [], 0
    for token in text.split():
        want, got, start, end = letters(token), "", None, None
        while i < len(pieces) and len(got) < len(want):
            name, a, b = pieces[i]
            got += letters(name)
            if b > a:  # clitics like 's come back with zero length
                start = a if start is None else start
                end = b
            i += 1
        if not want or got != want or start is None:
            return None
        out.append((round(start, 4), round(end, 4)))
    return out if i == len(pieces) else None


def synth_job(engine: str, voice: str, text: str, dst: str, rate: float = 1.0, f0_hz: float | None = None,
              pitch_step: int = 0, gain_db: float = 0.0) -> dict:
    """Synthesize, then finish to 16 kHz at the common level (+ ``gain_db`` for loudness styles)."""
    with ScratchDir() as tmp:
        raw = str(tmp / "raw.wav")
        pieces = synthesize(engine, voice, text, raw, rate, f0_hz, pitch_step)
        wav, sr = sf.read(raw, dtype="float32", always_2d=True)
        # Loudness styles move the normalisation target (peak-capped, so "loud" never clips).
        out: dict = {"duration_s": finish_array(wav.T, sr, dst, rms_dbfs=LEVEL_DBFS + gain_db)}
    times = align_words(text, pieces) if pieces else None
    if times is not None:  # resampling keeps time: festival's word times hold for the 16 kHz file
        out["word_times"] = [list(t) for t in times]
    return out


def copy_job(src: str, dst: str) -> dict:
    return {"duration_s": finish_file(src, dst, rms_dbfs=LEVEL_DBFS)}


# -- planners: (item, job) pairs; the job's result dict is merged into the item ------------------
def plan_real_speech(folder: Path, n_asterisk: int | None, n_sphinx: int | None, seed: int) -> list[tuple[dict, Job]]:
    """Asterisk prompts (``n_asterisk`` of them, all when ``None``) and pocketsphinx test utterances."""
    wav_root = source_path("asterisk_wav")
    transcripts = asterisk_transcripts(source_path("asterisk_txt"))
    keys = []
    for key in sorted(transcripts):
        path = os.path.join(wav_root, key + ".wav")
        if spoken(transcripts[key]) and os.path.isfile(path) and 0.8 <= sf.info(path).duration <= 20.0:
            keys.append(key)
    if n_asterisk is not None and n_asterisk < len(keys):
        keys = sorted(rng_for(seed, "asterisk").choice(keys, n_asterisk, replace=False).tolist())
    sources = [("allison", "allison-" + k.replace("/", "-"), os.path.join(wav_root, k + ".wav"), transcripts[k]) for k in keys]
    for set_key, speaker in (("librivox", "librivox_austen"), ("cards", "sphinx_cards")):
        folder_src = Path(source_path(set_key))
        trans = next(folder_src.glob("*transcription"))
        ids = sorted(sphinx_transcription(trans).items())[: n_sphinx or None]
        sources += [(speaker, f"{speaker}-{fid}", str(folder_src / f"{fid}.wav"), text) for fid, text in ids]
    out = []
    for speaker, utt, src, text in sources:
        rel = f"wav/{utt}.wav"
        item = {"utt_id": utt, "audio": rel, "speaker": speaker, "text": text, "source": src}
        out.append((item, Job(copy_job, {"src": src, "dst": str(folder / rel)}, cost=0.2)))
    return out


def plan_synth_speech(folder: Path, pool: list[str], per_speaker: int, small: bool, seed: int) -> list[tuple[dict, Job]]:
    """``per_speaker`` sentences per voice, drawn from ``pool`` with a per-voice seed."""
    out = []
    for v in voices(small):
        picks = rng_for(seed, "synth", v.speaker).choice(len(pool), min(per_speaker, len(pool)), replace=False)
        for n, idx in enumerate(sorted(picks.tolist())):
            utt = f"{v.speaker}-{n:03d}"
            rel = f"wav/{utt}.wav"
            item = {"utt_id": utt, "audio": rel, "speaker": v.speaker, "text": pool[idx],
                    "extra": {"engine": v.engine, "voice": v.voice}}
            job = Job(synth_job, {"engine": v.engine, "voice": v.voice, "text": pool[idx], "dst": str(folder / rel)},
                      cost=2.0 if v.engine == "festival" else 1.0)
            out.append((item, job))
    return out


# Style vocabulary: what the synthesizer does, and the words an instruction may use for it.
RATES = {"slow": (0.72, ["slowly", "at a slow, unhurried pace", "very deliberately"]),
         "normal": (1.0, []),
         "fast": (1.35, ["quickly", "at a fast pace", "briskly"])}
PITCHES = {"low": (-1, ["in a low voice", "with a deep, low pitch", "in a low register"]),
           "normal": (0, []),
           "high": (1, ["in a high voice", "with a high pitch", "in a raised, high register"])}
VOLUMES = {"soft": (-12.0, ["softly", "quietly", "in a hushed voice"]),
           "normal": (0.0, []),
           "loud": (6.0, ["loudly", "in a loud voice", "forcefully"])}
_LEADS = ["Speak {}.", "Say this {}.", "Read the sentence {}.", "Please talk {}.", "Deliver the line {}."]
_GENDER_LEADS = ["A {g} voice speaking {}.", "A {g} speaker says this {}."]


def style_instruction(rng, rate: str, pitch: str, volume: str, gender: str) -> str:
    """An instruction naming each non-neutral attribute (neutral ones may go unsaid, like in real prompts)."""
    parts = [rng.choice(table[key][1]) for table, key in ((RATES, rate), (PITCHES, pitch), (VOLUMES, volume)) if key != "normal"]
    if not parts:
        return str(rng.choice(["Speak in a natural, even tone at a normal pace.", "Read this plainly, at a normal speed and volume."]))
    order = rng.permutation(len(parts))
    parts = [parts[i] for i in order]
    phrase = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    if rng.random() < 0.3:
        return str(rng.choice(_GENDER_LEADS)).format(phrase, g=gender)
    return str(rng.choice(_LEADS)).format(phrase)


def plan_instruct_speech(folder: Path, pool: list[str], count: int, small: bool, seed: int) -> list[tuple[dict, Job]]:
    """``count`` styled renditions; every utterance changes at least one of rate / pitch / loudness
    except about one in eight, which asks for (and gets) the neutral style."""
    styled = [v for v in voices(small) if v.engine in STYLE_ENGINES]
    out = []
    for n in range(count):
        rng = rng_for(seed, "instruct", n)
        v = styled[n % len(styled)]
        combo = ("normal", "normal", "normal")
        while combo == ("normal", "normal", "normal") and rng.random() > 0.125:
            combo = (str(rng.choice(list(RATES))), str(rng.choice(list(PITCHES))), str(rng.choice(list(VOLUMES))))
        rate, pitch, volume = combo
        step = PITCHES[pitch][0]
        text = pool[int(rng.integers(len(pool)))]
        utt = f"{v.speaker}-style{n:03d}"
        rel = f"wav/{utt}.wav"
        f0 = v.base_f0 * 2 ** (4 * step / 12) if v.engine == "flite" and step else None  # +-4 semitones
        kwargs = {"engine": v.engine, "voice": v.voice, "text": text, "dst": str(folder / rel), "rate": RATES[rate][0],
                  "f0_hz": f0, "pitch_step": step, "gain_db": VOLUMES[volume][0]}
        item = {"utt_id": utt, "audio": rel, "speaker": v.speaker, "text": text,
                "instruction": style_instruction(rng, rate, pitch, volume, v.gender),
                "extra": {"style": {"rate": rate, "pitch": pitch, "volume": volume}, "engine": v.engine, "voice": v.voice,
                          "rate_factor": RATES[rate][0], "gain_db": VOLUMES[volume][0]}}
        out.append((item, Job(synth_job, kwargs)))
    return out


def text_pool() -> list[str]:
    """The sentences synthetic voices read: the word-only Asterisk prompts plus the LibriVox lines."""
    pool = sentence_pool(asterisk_transcripts(source_path("asterisk_txt")))
    lib = sphinx_transcription(Path(source_path("librivox")) / "transcription")
    return sorted(set(pool) | {clean_sentence(t) + "." for t in lib.values()})
