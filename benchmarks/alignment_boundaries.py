"""Alignment boundary error on synthesized speech with known boundaries: whisper words vs refined.

festival (kal_diphone and ked_diphone) reads held-out sentences (not the five the segmentation
weights were chosen on) and reports its own phone segments (``pipelines/alignment/reference_timing.py``).
Each utterance is aligned to its transcript by ``pipelines.alignment.words.align``; errors are
|predicted - true| over every word start and end (pauses excluded) and every phone start (words whose
CMUdict phone count equals festival's). ``whisper_*`` is the same on Whisper-base's own word
timestamps (matched to the transcript), i.e. without the phone-level refinement.

    .venv/bin/python benchmarks/alignment_boundaries.py     # ends with: BENCH alignment_boundaries ...
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

SENTENCES = (
    "Bright yellow flowers grew along the old stone wall.",
    "My brother bought two tickets for the late train to Boston.",
    "The children played football in the park until it got dark.",
    "Turn left at the second corner and you will see the bakery.",
    "He opened the window, and cold air filled the small room.",
    "Our teacher read a short story about a clever fox.",
)


def measure(voices: tuple[str, ...], sentences: tuple[str, ...]) -> dict:
    from pipelines.alignment.reference_timing import festival_segments, words_of
    from pipelines.alignment.words import align, match_words, transcript_words, whisper_words
    from uniaudio.audio import load_audio

    word_ref, word_raw, phone_ref, secs, wall = [], [], [], 0.0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for v in voices:
            for i, text in enumerate(sentences):
                path = os.path.join(tmp, f"{v}_{i}.wav")
                segs = festival_segments(text, path, v)
                wav = load_audio(path, 16000)
                truth = words_of(segs)
                t0 = time.time()
                heard = whisper_words(wav)
                al = align(wav, text, heard=heard)
                wall += time.time() - t0
                secs += len(wav) / 16000
                raw, _ = match_words(transcript_words(text), heard, len(wav) / 16000)
                if len(truth) != len(al.words):
                    continue
                for (_, a, b), (pa, pb), (ra, rb) in zip(truth, al.word_times, raw):
                    word_ref += [abs(pa - a), abs(pb - b)]
                    word_raw += [abs(ra - a), abs(rb - b)]
                phones = [(a, b) for ph, a, b, _ in segs if ph != "pau"]
                ours = [x for w in al.phone_times for x in w]
                if len(phones) == len(ours):
                    phone_ref += [abs(x[0] - y[0]) for x, y in zip(phones, ours)]
    ms = lambda e: np.asarray(e) * 1000  # noqa: E731
    out = {"words": len(word_ref) // 2, "phones": len(phone_ref), "audio_s": round(secs, 1),
           "x_realtime": round(secs / max(wall, 1e-9), 2)}
    for name, e in (("refined", word_ref), ("whisper", word_raw), ("phone", phone_ref)):
        e = ms(e)
        out.update({f"{name}_mean_ms": round(float(e.mean()), 1), f"{name}_median_ms": round(float(np.median(e)), 1),
                    f"{name}_p90_ms": round(float(np.percentile(e, 90)), 1),
                    f"{name}_within_50ms": round(float(np.mean(e <= 50)), 2)})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voices", default="kal_diphone,ked_diphone")
    args = ap.parse_args(argv)
    r = measure(tuple(args.voices.split(",")), SENTENCES)
    print(" ".join(f"{k}={v}" for k, v in r.items()))
    print(f"BENCH alignment_boundaries refined_mean_ms={r['refined_mean_ms']} whisper_mean_ms={r['whisper_mean_ms']} "
          f"ratio={r['refined_mean_ms'] / r['whisper_mean_ms']:.2f} refined_median_ms={r['refined_median_ms']} "
          f"whisper_median_ms={r['whisper_median_ms']} phone_start_median_ms={r['phone_median_ms']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
