"""Resynthesis quality of a codec on whole files: what a listener and the LM care about, in one place.

Used by validation during training (logged to MLflow at every validation) and by
``benchmarks/codec_learning.py``. Per item, with the reconstruction at ``n_q`` codebooks:

- ``mel_distance``: L1 of natural-log mels (80 bands, n_fft 1024, hop 160), as in validation; lower is better.
- ``stft_distance``: the multi-resolution STFT distance (spectral convergence + log-magnitude L1 at
  FFT 512/1024/2048), the published recipe's own reconstruction loss, as a distance; lower is better.
- ``si_snr``: scale-invariant SNR in dB (phase-sensitive); higher is better.
- speech items only: ``pesq`` (wide-band P.862.2), ``stoi`` and, when a transcript is given, the
  words of the Whisper transcript of the resynthesis against it (``wer``, pooled over items as
  edits / reference words). The evaluators are the project's (:mod:`uniaudio.evaluate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from codec.losses import MultiResolutionSTFTLoss, mel_distance, si_snr
from codec.model import CodecModel
from codec.spectral import MelSpectrogram


@dataclass
class EvalItem:
    wav: np.ndarray  # float32, whole frames
    speech: bool = False
    text: str | None = None  # reference transcript (speech); None: no WER for this item


@torch.no_grad()
def resynthesize(model: CodecModel, wav: np.ndarray, n_q: int) -> np.ndarray:
    was = model.training
    model.eval()
    x = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32)).view(1, 1, -1)
    dev = next(model.parameters()).device
    z = model.encoder(x.to(dev))
    y = model.decoder(model.quantizer.decode(model.quantizer.encode(z, n_q))).view(-1).float().cpu().numpy()
    model.train(was)
    return y


@torch.no_grad()
def quality(model: CodecModel, items: list[EvalItem], n_q: int, asr: bool = True) -> dict[str, float]:
    """Means over items (PESQ/STOI over speech items; WER pooled over items with a transcript)."""
    from uniaudio.evaluate import signal_metrics as sm

    mel = MelSpectrogram(16000, 1024, 160, 800, 80, log=True)
    stft = MultiResolutionSTFTLoss([512, 1024, 2048], [480, 960, 1200], [120, 240, 300])
    sums: dict[str, list[float]] = {}
    edits = words = 0.0

    def add(k: str, v: float) -> None:
        sums.setdefault(k, []).append(float(v))

    for it in items:
        y = resynthesize(model, it.wav, n_q)
        ty, tx = torch.from_numpy(y).view(1, -1), torch.from_numpy(it.wav).view(1, -1)
        add("mel_distance", mel_distance(mel, ty, tx))
        add("stft_distance", stft(ty, tx))
        add("si_snr", si_snr(ty, tx)[0])
        if it.speech:
            for name, fn in (("pesq", sm.pesq_wb), ("stoi", sm.stoi)):
                try:
                    add(name, fn(y, it.wav))
                except ValueError:  # PESQ finds no utterance in garbage: the floor of its scale
                    add(name, 1.0 if name == "pesq" else 0.0)
            if asr and it.text is not None:
                from uniaudio.evaluate.asr import transcribe
                from uniaudio.evaluate.text import wer

                r = wer(transcribe(y), it.text)
                edits, words = edits + r.num, words + r.den
    out = {k: float(np.mean(v)) for k, v in sums.items()}
    if words:
        out["wer"] = edits / words
    return out
