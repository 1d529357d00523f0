"""Validation of a codec: mel distance and SI-SNR per number of codebooks, codebook usage, samples.

Metrics (keys as logged to MLflow):
- ``val/mel_distance_q{n}``: L1 between natural-log mel spectrograms (80 bands, n_fft 1024, hop 160),
  lower is better; ``val/si_snr_q{n}``: scale-invariant SNR in dB, higher is better.
- ``val/codebook{i}_perplexity`` (exp of the code entropy, 1..codebook_size) and
  ``val/codebook{i}_usage`` (fraction of codes used at least once) at the largest n.
- at the LM's 3 codebooks (:func:`validation_quality`, from :mod:`codec.quality`):
  ``val/stft_distance_q3``, ``val/pesq_q3``, ``val/stoi_q3`` (every validation item is scored as
  speech; PESQ of a non-speech item reads as 1.0) and, with ``train.val_asr``, ``val/wer_q3``: the
  Whisper transcript of the resynthesis against the transcript of the original (no labels needed).
Every item is encoded alone at its full length (no crops), like the published recipe.
:class:`StepTiming` gives the per-step time split logged as ``time/{data,generator,discriminator}_s``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from codec.losses import mel_distance, si_snr
from codec.model import CodecModel
from codec.spectral import MelSpectrogram


def codebook_stats(codes: list[torch.Tensor], codebook_size: int) -> dict[str, float]:
    """Per-codebook perplexity and usage over a list of ``[n_q, F]`` code arrays."""
    allc = torch.cat([c.cpu() for c in codes], dim=-1)
    out = {}
    for i in range(allc.shape[0]):
        hist = torch.bincount(allc[i], minlength=codebook_size).double()
        p = hist / hist.sum()
        ent = -(p[p > 0] * p[p > 0].log()).sum()
        out[f"val/codebook{i}_perplexity"] = float(ent.exp())
        out[f"val/codebook{i}_usage"] = float((hist > 0).double().mean())
    return out


@torch.no_grad()
def evaluate(model: CodecModel, wavs: list[np.ndarray], n_qs: list[int], sample_rate: int = 16000) -> dict[str, float]:
    """Mean metrics over ``wavs`` (float32 arrays, whole frames) for each n in ``n_qs``."""
    if not wavs:
        return {}
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    mel = MelSpectrogram(sample_rate, 1024, 160, 800, 80, log=True).to(dev)
    sums = {n: [0.0, 0.0] for n in n_qs}
    codes_max = []
    for w in wavs:
        x = torch.from_numpy(w).to(dev).view(1, 1, -1)
        z = model.encoder(x)
        for n in n_qs:
            codes = model.quantizer.encode(z, n)
            y = model.decoder(model.quantizer.decode(codes))
            sums[n][0] += float(mel_distance(mel, y.view(1, -1), x.view(1, -1)))
            sums[n][1] += float(si_snr(y.view(1, -1), x.view(1, -1))[0])
            if n == max(n_qs):
                codes_max.append(codes[0])
    model.train(was_training)
    out = {}
    for n, (m, s) in sums.items():
        out[f"val/mel_distance_q{n}"] = m / len(wavs)
        out[f"val/si_snr_q{n}"] = s / len(wavs)
    out.update(codebook_stats(codes_max, model.quantizer.codebook_size))
    return out


@torch.no_grad()
def save_samples(model: CodecModel, wavs: list[np.ndarray], out_dir: str | Path, n_qs: list[int],
                 sample_rate: int = 16000) -> list[Path]:
    """For each wav: the original, its reconstructions at each n in ``n_qs``, and a PNG of log-mel
    spectrograms (original above, reconstructions below). Returns the written files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from uniaudio.audio import write_audio

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    mel = MelSpectrogram(sample_rate, 1024, 160, 800, 80, log=True)
    files: list[Path] = []
    for i, w in enumerate(wavs):
        x = torch.from_numpy(w).to(dev).view(1, 1, -1)
        z = model.encoder(x)
        rows = [("original", w)]
        for n in n_qs:
            y = model.decoder(model.quantizer.decode(model.quantizer.encode(z, n))).view(-1).float().cpu().numpy()
            rows.append((f"{n} codebooks", y))
        fig, axes = plt.subplots(len(rows), 1, figsize=(8, 2.0 * len(rows)), sharex=True)
        for ax, (title, sig) in zip(np.atleast_1d(axes), rows):
            ax.imshow(mel(torch.from_numpy(np.ascontiguousarray(sig)).view(1, -1))[0].numpy(), origin="lower",
                      aspect="auto", vmin=np.log(1e-5), cmap="magma")
            ax.set_title(title, fontsize=9)
            ax.set_ylabel("mel")
            name = "original" if title == "original" else f"recon_q{title.split()[0]}"
            path = out / f"item{i}_{name}.wav"
            write_audio(path, sig, sample_rate)
            files.append(path)
        axes = np.atleast_1d(axes)
        axes[-1].set_xlabel("frame (10 ms)")
        fig.tight_layout()
        png = out / f"item{i}_spectrograms.png"
        fig.savefig(png, dpi=80)
        plt.close(fig)
        files.append(png)
    model.train(was_training)
    return files


def reference_transcripts(wavs: list[np.ndarray]) -> list[str | None]:
    """Whisper transcripts of the validation originals (once per run): the references of ``val/wer_q3``;
    an item with no words (music, sound) gets None and no WER."""
    from uniaudio.evaluate.asr import transcribe

    return [transcribe(w) or None for w in wavs]


def validation_quality(model: CodecModel, wavs: list[np.ndarray], texts: list[str | None] | None,
                       n_q: int) -> dict[str, float]:
    """STFT distance, PESQ, STOI (and WER when ``texts``) at ``n_q`` codebooks, keyed ``val/<name>_q<n>``."""
    from codec.quality import EvalItem, quality

    items = [EvalItem(w, speech=True, text=None if texts is None else texts[i]) for i, w in enumerate(wavs)]
    q = quality(model, items, n_q, asr=texts is not None)
    return {f"val/{k}_q{n_q}": v for k, v in q.items() if k in ("stft_distance", "pesq", "stoi", "wer")}


class StepTiming:
    """Seconds per step spent waiting for data, in the generator and in the discriminator update,
    summed between two log lines and reported as means (``time/*_s``)."""

    def __init__(self) -> None:
        self.data = self.generator = self.discriminator = 0.0
        self.steps = 0

    def add(self, metrics: dict[str, float]) -> None:
        self.generator += metrics.pop("time/generator_s", 0.0)
        self.discriminator += metrics.pop("time/discriminator_s", 0.0)
        self.steps += 1

    def means(self) -> dict[str, float]:
        n = max(self.steps, 1)
        out = {"time/data_s": self.data / n, "time/generator_s": self.generator / n,
               "time/discriminator_s": self.discriminator / n}
        self.data = self.generator = self.discriminator = 0.0
        self.steps = 0
        return out
