"""Fixtures' builders for the generation tests: a tiny trained LM exported like `uniaudio train`
does, a tiny codec (random init, exported with the codec's own API), input wavs, a k-means model and a
MIDI file, and one request per task."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from uniaudio.model import OutputRules, build_model, collate, get_preset, lm_loss
from uniaudio.sequence import build_sequence
from uniaudio.vocab import load_vocab

VOCAB = load_vocab()
SR = 16000


def tone(seconds: float, freq: float, seed: int) -> np.ndarray:
    """A speech-ish test signal: a tone with vibrato plus a little noise (deterministic)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    wav = 0.3 * np.sin(2 * np.pi * freq * t + 3 * np.sin(2 * np.pi * 5 * t)) + 0.02 * rng.standard_normal(len(t))
    return wav.astype(np.float32)


def write_wavs(d: Path) -> dict[str, str]:
    from uniaudio.audio import write_audio

    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, secs, freq in (("speech", 0.6, 220.0), ("prompt", 0.8, 180.0), ("noisy", 0.5, 300.0), ("other", 0.4, 150.0)):
        out[name] = str(d / f"{name}.wav")
        write_audio(out[name], tone(secs, freq, seed=len(name)))
    return out


def write_midi(path: Path) -> str:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    inst = pretty_midi.Instrument(program=0)
    for i, pitch in enumerate((60, 62, 64)):
        inst.notes.append(pretty_midi.Note(velocity=90, pitch=pitch, start=0.15 * i, end=0.15 * (i + 1)))
    pm.instruments.append(inst)
    pm.write(str(path))
    return str(path)


def make_codec(d: Path) -> tuple[str, str]:
    from codec.config import preset
    from codec.export import export_codec
    from codec.model import CodecModel

    torch.manual_seed(0)
    cfg = preset("tiny")
    out = export_codec(CodecModel(cfg), cfg, d)
    import json

    return str(out), json.loads((out / "codec.json").read_text())["content_hash"]


def training_sequences(rng: np.random.Generator, n: int = 12) -> list:
    """Short sequences of several tasks: audio targets of ~8 frames of a repeating pattern, an asr
    text target and an sv label, so every target kind and both condition kinds are seen."""
    seqs = []
    codes = lambda f: (np.arange(f)[:, None] + np.arange(3)) % 8  # noqa: E731
    for i in range(n):
        f = int(rng.integers(5, 10))
        kind = i % 4
        if kind == 0:
            segs = {"phone": rng.integers(5, 60, 6), "prompt": codes(6), "target": codes(f)}
            task = "tts"
        elif kind == 1:
            segs = {"source": codes(f), "target": codes(f)}
            task = "se"
        elif kind == 2:
            segs = {"caption": rng.standard_normal((4, 384)).astype(np.float32), "target": codes(f)}
            task = "text_to_sound"
        else:
            segs = {"source": codes(f), "target": rng.integers(97, 123, 4)}
            task = "asr"
        seqs.append(build_sequence(task, segs, VOCAB))
    seqs.append(build_sequence("sv", {"source": codes(4), "prompt": codes(4), "target": np.array([1])}, VOCAB))
    return seqs


def train_tiny(steps: int = 8, seed: int = 0):
    """A tiny model trained a handful of steps with the project's loss (a plain torch loop)."""
    torch.manual_seed(seed)
    cfg = get_preset("tiny")
    model = build_model(cfg)
    rules = OutputRules(VOCAB, cfg.n_q)
    batch = collate(training_sequences(np.random.default_rng(seed)), VOCAB, cont_dim=cfg.cont_dim)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        out = lm_loss(model, batch, rules)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
    return model.eval(), cfg, losses


def export_tiny(out: Path, codec_dir: str, codec_hash: str, kmeans: str, steps: int = 8) -> tuple[str, list]:
    from uniaudio.stores.exported import write_export

    model, cfg, losses = train_tiny(steps)
    lineage = {"run_id": "test", "steps": steps, "codec_dir": codec_dir, "codec_hash": codec_hash,
               "tokenizers": {"semantic": {"enabled": True, "kmeans_path": kmeans}}}
    write_export(out, {k: v.contiguous() for k, v in model.state_dict().items()}, cfg, lineage)
    return str(out), losses


def fit_kmeans(wav_paths: list[str], out: Path) -> str:
    from uniaudio.audio import load_audio
    from uniaudio.tokenizers import fit_semantic_kmeans

    fit_semantic_kmeans([load_audio(p) for p in wav_paths], k=8, out_path=out)
    return str(out)


def task_requests(w: dict[str, str], midi: str) -> list[dict]:
    """One request per task (JSON objects as a requests file holds them)."""
    return [
        {"task": "tts", "id": "tts-1", "text": "Hi there.", "prompt": w["prompt"], "reference": w["speech"]},
        {"task": "plain_tts", "id": "plain-1", "text": "Good day."},
        {"task": "vc", "id": "vc-1", "source": w["speech"], "prompt": w["prompt"]},
        {"task": "svs", "id": "svs-1", "lyrics": "la la la", "notes": midi, "prompt": w["prompt"]},
        {"task": "se", "id": "se-1", "source": w["noisy"], "reference": w["speech"]},
        {"task": "tse", "id": "tse-1", "source": w["noisy"], "enrolment": w["prompt"]},
        {"task": "text_to_sound", "id": "tts-sound-1", "caption": "a dog barks twice"},
        {"task": "text_to_music", "id": "ttm-1", "caption": "a calm piano melody"},
        {"task": "speech_edit", "id": "edit-1", "text": "hello world", "source": w["speech"], "edit_span": "0.1:0.3"},
        {"task": "audio_edit", "id": "aedit-1", "instruction": "Add the sound of rain", "source": w["other"]},
        {"task": "instruct_tts", "id": "itts-1", "text": "Okay.", "instruction": "whispering, slow"},
        {"task": "dereverb", "id": "derev-1", "source": w["noisy"]},
        {"task": "asr", "id": "asr-1", "source": w["other"], "text": "hello"},
        {"task": "sv", "id": "sv-1", "source": w["speech"], "prompt": w["prompt"], "label": 1},
    ]
