"""DNSMOS P.835 (+ P.808): non-intrusive speech quality, the ONNX models shipped in ``speechmos``.

No reference needed: it predicts the MOS a listener would give. Four numbers per clip, 1-5, higher
is better: ``sig`` (speech distortion), ``bak`` (background noise intrusiveness), ``ovrl`` (overall),
``p808`` (P.808 overall from a separate model). Clips are scored in 9 s windows with a 1 s hop and
averaged; clips shorter than 9 s are looped up to 9 s (as the DNS Challenge script does).

We build ``speechmos``'s scorer ourselves, once per process, so that its two ONNX sessions use
:func:`~uniaudio.evaluate.asr.eval_threads` threads (onnxruntime otherwise takes every core, which on a
shared CI box is slower, not faster).

Example::

    dnsmos(load_audio("enhanced.wav"))  # -> {"dnsmos_ovrl": 3.2, "dnsmos_sig": 3.6, ...}
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from uniaudio.audio import SAMPLE_RATE

_LOCK = threading.Lock()
_SCORER = None
#: Under this the windowing loops a few samples hundreds of times; refuse instead.
MIN_SAMPLES = SAMPLE_RATE // 10
KEYS = {"ovrl_mos": "dnsmos_ovrl", "sig_mos": "dnsmos_sig", "bak_mos": "dnsmos_bak", "p808_mos": "dnsmos_p808"}


def get_scorer():
    """The process-wide ``speechmos.dnsmos.DNSMOS`` with thread-limited ONNX sessions."""
    global _SCORER
    with _LOCK:
        if _SCORER is None:
            import onnxruntime as ort
            from speechmos import dnsmos as sm

            from uniaudio.evaluate.asr import eval_threads

            models = Path(sm.__file__).parent / "dnsmos_models"
            opts = ort.SessionOptions()
            opts.intra_op_num_threads, opts.inter_op_num_threads = eval_threads(), 1
            scorer = sm.DNSMOS.__new__(sm.DNSMOS)  # its __init__ would build unrestricted sessions
            scorer.primary_model_path = str(models / "sig_bak_ovr.onnx")
            scorer.onnx_sess = ort.InferenceSession(scorer.primary_model_path, opts, providers=["CPUExecutionProvider"])
            scorer.p808_onnx_sess = ort.InferenceSession(str(models / "model_v8.onnx"), opts,
                                                         providers=["CPUExecutionProvider"])
            _SCORER = scorer
        return _SCORER


def dnsmos(wav: np.ndarray) -> dict[str, float]:
    """16 kHz mono float audio -> ``{"dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "dnsmos_p808"}``."""
    x = np.asarray(wav, dtype=np.float32)
    if x.ndim != 1 or x.size < MIN_SAMPLES:
        raise ValueError(f"DNSMOS needs at least {MIN_SAMPLES} mono samples, got shape {x.shape}")
    if not np.any(x):
        raise ValueError("audio is all zeros")
    # speechmos rejects values outside [-1, 1] (and loops forever on empty input: checked above).
    x = np.clip(x, -1.0, 1.0)
    scorer = get_scorer()
    with _LOCK:  # the sessions are shared; keep calls serial
        out = scorer(x, SAMPLE_RATE, False)
    return {name: float(out[key]) for key, name in KEYS.items()}
