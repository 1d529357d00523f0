"""Listening samples and spectrogram PNGs for the MLflow run (a few items per task).

For each sampled item the wavs of every system that produced audio (model output, reference,
codec resynthesis) are written at 16 kHz as ``samples/<task>/<id>.<system>.wav`` and one PNG stacks
their log spectrograms (``samples/<task>/<id>.png``) on a shared time axis, so the codec's ceiling
and the model's output can be compared at a glance.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from uniaudio.audio import SAMPLE_RATE, write_audio


def _safe(name: str) -> str:
    """A file-name-safe version of an item id."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:120] or "item"


def log_spectrogram(wav: np.ndarray, n_fft: int = 512, hop: int = 160) -> np.ndarray:
    """Power spectrogram in dB, ``[n_fft // 2 + 1, frames]`` (Hann window, floor -120 dB)."""
    x = np.asarray(wav, dtype=np.float64)
    if x.size < n_fft:
        x = np.pad(x, (0, n_fft - x.size))
    frames = 1 + (x.size - n_fft) // hop
    idx = np.arange(frames)[:, None] * hop + np.arange(n_fft)[None, :]
    spec = np.abs(np.fft.rfft(x[idx] * np.hanning(n_fft), axis=1)) ** 2
    return 10.0 * np.log10(np.maximum(spec, 1e-12)).T


def spectrogram_png(panels: dict[str, np.ndarray], path: str | Path, title: str = "", range_db: float = 80.0) -> Path:
    """Stacked spectrograms (one panel per entry) on one colour scale, written to ``path``.

    The scale is shared (top = the loudest bin over all panels, ``range_db`` below it), so a quieter
    or noisier system looks quieter or noisier rather than being re-normalised per panel.
    """
    import matplotlib

    matplotlib.use("Agg")  # headless; also safe when a GUI backend was selected elsewhere
    import matplotlib.pyplot as plt

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    specs = {name: log_spectrogram(wav) for name, wav in panels.items()}
    top = max(float(s.max()) for s in specs.values())
    fig, axes = plt.subplots(len(specs), 1, figsize=(8, 2.2 * len(specs)), squeeze=False, sharex=True)
    for ax, (name, spec) in zip(axes[:, 0], specs.items()):
        extent = (0.0, spec.shape[1] * 160 / SAMPLE_RATE, 0.0, SAMPLE_RATE / 2)
        ax.imshow(spec, origin="lower", aspect="auto", extent=extent, cmap="magma", vmin=top - range_db, vmax=top)
        ax.set_ylabel(f"{name}\nHz", fontsize=8)
    longest = max(s.shape[1] for s in specs.values()) * 160 / SAMPLE_RATE
    axes[-1, 0].set_xlim(0.0, longest)  # shared axis: the longest clip sets it, shorter ones end early
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(p, dpi=80)
    plt.close(fig)
    return p


def write_samples(samples: dict[tuple[str, str], dict[str, np.ndarray]], out_dir: str | Path) -> list[Path]:
    """``{(task, id): {system: wav}}`` -> wavs + one PNG per item under ``out_dir/samples``."""
    written: list[Path] = []
    root = Path(out_dir) / "samples"
    for (task, item_id), panels in samples.items():
        if not panels:
            continue
        stem = root / task / _safe(item_id)
        for system, wav in panels.items():
            path = stem.parent / f"{stem.name}.{system}.wav"
            write_audio(path, wav, SAMPLE_RATE)
            written.append(path)
        written.append(spectrogram_png(panels, stem.parent / f"{stem.name}.png", f"{task} / {item_id}"))
    return written
