"""Phone-level refinement of word timings: a dynamic-programming segmentation of the audio.

Whisper's word timestamps (``words.py``) come from its cross-attention, on a 20 ms grid, and drift by
100-200 ms around pauses (a pause is usually given to the next word). Given the transcript's phones,
this module places every phone boundary by one Viterbi pass over 10 ms frames that minimises

* **acoustic inhomogeneity**: the squared deviation of each segment's frames (13 log-mel cepstra +
  log energy, normalised per utterance) from the segment mean — phones are spectrally steady, so
  boundaries move to where the spectrum changes;
* **a duration model**: ``((log d - log mu_class) / sigma)^2 / 2`` per phone, ``mu`` by phone class
  (vowels, diphthongs, stops, fricatives, affricates, nasals, liquids/glides; means of read English);
* **the word windows**: each word's first phone must start within ``band_s`` (0.6 s) of whisper's
  estimate for that word (so the DP refines, it does not re-recognise; whisper is off by up to
  ~0.45 s next to pauses);
* **quiet frames inside a phone** (below the midpoint of the 10th / 90th energy percentiles; free for
  stops and affricates, whose closure is quiet) and **loud frames inside a silence**.

The weights (``dur_weight`` 8, ``sil_weight`` 10, ``band_s`` 0.6) were chosen on five festival
sentences (kal_diphone) and measured on others (``benchmarks/alignment_boundaries.py``).

An optional silence unit sits between words (zero frames when there is no pause), scored by frame
energy: silence frames are cheap when quiet, dear when loud. Output: phone and word intervals in
seconds. No weights, no training: the costs are the model.

>>> sr = 16000
>>> t = np.arange(sr) / sr
>>> wav = np.concatenate([0.3 * np.sin(2 * np.pi * 200 * t[:8000]), 0.3 * np.sin(2 * np.pi * 1500 * t[:8000])])
>>> out = segment(wav.astype(np.float32), [["AA"], ["IY"]], [(0.0, 0.6), (0.4, 1.0)])
>>> abs(out.words[1][0] - 0.5) <= 0.03, out.words[0][1] <= out.words[1][0]
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from uniaudio.audio import SAMPLE_RATE

HOP, WIN = 160, 400  # 10 ms frames, 25 ms windows
SIL = "<sil>"
# Mean phone durations (seconds) by class, read English; sigma of log duration.
CLASS_MEAN = {"vowel": 0.085, "diphthong": 0.13, "stop": 0.07, "affricate": 0.09, "fricative": 0.09,
              "nasal": 0.06, "liquid": 0.055}
SIGMA = 0.55
_CLASS = {
    **{p: "vowel" for p in ("AA", "AE", "AH", "AO", "EH", "ER", "IH", "IY", "UH", "UW")},
    **{p: "diphthong" for p in ("AW", "AY", "EY", "OW", "OY")},
    **{p: "stop" for p in ("B", "D", "G", "K", "P", "T")},
    **{p: "affricate" for p in ("CH", "JH")},
    **{p: "fricative" for p in ("DH", "F", "HH", "S", "SH", "TH", "V", "Z", "ZH")},
    **{p: "nasal" for p in ("M", "N", "NG")},
    **{p: "liquid" for p in ("L", "R", "W", "Y")},
}


def phone_mean(phone: str) -> float:
    """Mean duration of an ARPAbet phone (stress digits ignored); unknown symbols: a vowel's."""
    return CLASS_MEAN[_CLASS.get(phone.rstrip("012").upper(), "vowel")]


@dataclass(frozen=True)
class Segmentation:
    phones: list[list[tuple[float, float]]]  # per word, per phone: (start_s, end_s)
    words: list[tuple[float, float]]  # per word: (start of its first phone, end of its last)


def features(wav: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[T]`` audio -> (``[F, 14]`` normalised cepstra + log energy, ``[F]`` log energy) at 10 ms."""
    x = np.asarray(wav, dtype=np.float64)
    n = max(1, 1 + (len(x) - WIN) // HOP) if len(x) >= WIN else 1
    x = np.pad(x, (0, max(0, (n - 1) * HOP + WIN - len(x))))
    idx = np.arange(WIN)[None, :] + HOP * np.arange(n)[:, None]
    frames = x[idx] * np.hanning(WIN)[None, :]
    power = np.abs(np.fft.rfft(frames, 512, axis=1)) ** 2
    mel = _mel_matrix(40, 512) @ power.T  # [40, F]
    logmel = np.log(mel + 1e-10)
    k = np.arange(40)
    dct = np.cos(np.pi / 40 * (k[None, :] + 0.5) * np.arange(13)[:, None])
    ceps = (dct @ logmel).T  # [F, 13]
    energy = np.log(power.sum(1) + 1e-10)
    f = np.concatenate([ceps, energy[:, None]], axis=1)
    f = (f - f.mean(0)) / (f.std(0) + 1e-6)
    return f, energy


def _mel_matrix(n_mels: int, n_fft: int) -> np.ndarray:
    hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1)  # noqa: E731
    mel = lambda f: 2595.0 * np.log10(1 + f / 700.0)  # noqa: E731
    pts = hz(np.linspace(mel(50.0), mel(SAMPLE_RATE / 2), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1 / SAMPLE_RATE)
    m = np.zeros((n_mels, len(bins)))
    for i in range(n_mels):
        a, c, b = pts[i], pts[i + 1], pts[i + 2]
        m[i] = np.clip(np.minimum((bins - a) / (c - a), (b - bins) / (b - c)), 0, None)
    return m


def segment(wav: np.ndarray, word_phones: Sequence[Sequence[str]], word_times: Sequence[tuple[float, float]],
            band_s: float = 0.6, dur_weight: float = 8.0, max_phone_s: float = 0.4, max_sil_s: float = 1.5,
            sil_weight: float = 10.0) -> Segmentation:
    """Viterbi segmentation (module doc). ``word_times``: the coarse (whisper) interval per word."""
    feats, energy = features(wav)
    n_frames = len(feats)
    units: list[tuple[str, int]] = [(SIL, -1)]  # (phone, word index); word boundaries get a silence unit
    for w, phones in enumerate(word_phones):
        if not phones:
            raise ValueError(f"word {w} has no phones")
        units += [(p, w) for p in phones] + [(SIL, -1)]
    # Cumulative sums for O(1) segment SSE.
    c1 = np.vstack([np.zeros((1, feats.shape[1])), np.cumsum(feats, 0)])
    c2 = np.concatenate([[0.0], np.cumsum((feats ** 2).sum(1))])
    # Loudness above the midpoint between quiet (10th percentile) and speech (90th) makes silence dear.
    thr = 0.5 * (np.percentile(energy, 10) + np.percentile(energy, 90))
    cs = np.concatenate([[0.0], np.cumsum(sil_weight * np.clip(energy - thr, 0, None))])
    cq = np.concatenate([[0.0], np.cumsum(sil_weight * np.clip(thr - energy, 0, None))])  # quiet frames in a phone
    lmax, lsil = int(max_phone_s * 100), int(max_sil_s * 100)
    band = int(band_s * 100)
    starts = {w: int(round(a * 100)) for w, (a, _) in enumerate(word_times)}
    first = {i for i, (p, w) in enumerate(units) if p != SIL and (i == 0 or units[i - 1][1] != w)}
    D = np.full((len(units) + 1, n_frames + 1), np.inf)
    back = np.zeros((len(units) + 1, n_frames + 1), dtype=np.int32)
    D[0, 0] = 0.0
    for k, (ph, w) in enumerate(units, start=1):
        prev = D[k - 1]
        sil = ph == SIL
        mu = None if sil else phone_mean(ph) * 100
        closure = not sil and _CLASS.get(ph.rstrip("012").upper()) in ("stop", "affricate")
        lo_s, hi_s = 0, n_frames
        if (k - 1) in first:  # a word's first phone starts near whisper's start of the word
            lo_s, hi_s = max(0, starts[w] - band), min(n_frames, starts[w] + band)
        longest = lsil if sil else lmax
        for e in range(n_frames + 1):
            s = np.arange(max(lo_s, e - longest), min(e if not sil else e + 1, hi_s + 1))
            if s.size == 0:
                continue
            p = prev[s]
            ok = np.isfinite(p)
            if not ok.any():
                continue
            s, p = s[ok], p[ok]
            d = (e - s).astype(np.float64)
            dd = np.maximum(d, 1.0)
            sse = (c2[e] - c2[s]) - ((c1[e] - c1[s]) ** 2).sum(1) / dd
            if sil:
                tot = p + sse + (cs[e] - cs[s])  # zero length (d = 0): free
            else:
                quiet = 0.0 if closure else cq[e] - cq[s]  # a stop's closure is quiet by nature
                tot = p + sse + quiet + dur_weight * 0.5 * ((np.log(d) - np.log(mu)) / SIGMA) ** 2
            j = int(np.argmin(tot))
            D[k, e], back[k, e] = tot[j], s[j]
    if not np.isfinite(D[len(units), n_frames]):
        raise ValueError("no segmentation fits the word windows")
    bounds = [0] * (len(units) + 1)
    e = n_frames
    for k in range(len(units), 0, -1):
        bounds[k] = e
        e = int(back[k, e])
    bounds[0] = e
    hop_s = HOP / SAMPLE_RATE
    phones: list[list[tuple[float, float]]] = [[] for _ in word_phones]
    for k, (ph, w) in enumerate(units, start=1):
        if ph != SIL:
            phones[w].append((bounds[k - 1] * hop_s, bounds[k] * hop_s))
    words = [(p[0][0], p[-1][1]) for p in phones]
    return Segmentation(phones, words)
