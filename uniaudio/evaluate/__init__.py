"""Evaluation of generated audio with offline evaluators (docs/EVALUATION.md).

Modules, one per concern:

- :mod:`.results` - the RESULTS.jsonl contract (what ``uniaudio generate`` writes);
- :mod:`.registry` / :mod:`.families` - which metrics apply to which task, and the glue per family;
- metric modules: :mod:`.asr` + :mod:`.text` (WER/CER with packaged Whisper base),
  :mod:`.speaker` (Resemblyzer cosine), :mod:`.signal_metrics` (PESQ, STOI, SI-SNR),
  :mod:`.dnsmos` (DNSMOS P.835/P.808), :mod:`.mcd` (DTW mel-cepstral distance),
  :mod:`.frechet` (Fréchet distance over Whisper-encoder embeddings);
- :mod:`.resynthesis` - codec round-trip upper bounds;
- :mod:`.scoring` (per item), :mod:`.table` (aggregation, JSON/CSV), :mod:`.samples` (wavs + PNGs),
  :mod:`.runner` (``evaluate()``: the whole run, logged to MLflow).

Heavy imports happen inside functions; ``import uniaudio.evaluate`` is cheap.
"""

from __future__ import annotations

__all__ = ["evaluate", "EvaluateConfig"]


def __getattr__(name: str):
    if name in __all__:
        from uniaudio.evaluate import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'uniaudio.evaluate' has no attribute {name!r}")
