"""Codec resynthesis upper bounds: the ground truth passed through the codec, scored like the model.

The LM only ever predicts codec tokens, so no generation can beat "encode the true target, decode
it": that row of the table (system ``codec_resynthesis``) bounds every task's metrics, and the gap
between it and ``model`` is what the LM loses. (NaturalSpeech 3's Sim-R compares against exactly such
resynthesised prompts.) The same families run on the resynthesised audio; only the output changes.

Items are resynthesised in small batches (the codec's batched encode/decode equals item-by-item
within float round-off) and trimmed back to the reference length (the codec rounds up to 320-sample
frames).

Example::

    codec = Codec.load("runs/codec/codec")
    for item, wav_or_error in resynthesize_items(items, codec, caches, n_q=3):
        ...
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from uniaudio.evaluate.results import ResultItem
from uniaudio.evaluate.scoring import Caches

SYSTEM = "codec_resynthesis"


def load_codec(uri: str):
    """``codec.Codec.load(uri)`` with a clear error for a bad directory."""
    from codec import Codec
    from uniaudio.errors import UserFacingError

    try:
        return Codec.load(uri)
    except (FileNotFoundError, OSError, ValueError, KeyError) as err:
        raise UserFacingError(f"cannot load codec {uri}: {err}") from None


def resynthesize_batch(codec, wavs: list[np.ndarray], n_q: int = 3) -> list[np.ndarray]:
    """Encode + decode a list of 16 kHz mono wavs; each result has its input's length."""
    import torch

    if not wavs:
        return []
    lengths = torch.tensor([len(w) for w in wavs], dtype=torch.long)
    batch = torch.zeros(len(wavs), int(lengths.max()))
    for i, w in enumerate(wavs):
        batch[i, : len(w)] = torch.from_numpy(np.asarray(w, dtype=np.float32))
    codes = codec.encode(batch.to(codec.device), lengths=lengths, n_q=n_q)
    out = codec.decode(codes).numpy()
    return [out[i, : len(w)].astype(np.float32) for i, w in enumerate(wavs)]


def resynthesize_items(items: Iterable[ResultItem], codec, caches: Caches, n_q: int = 3,
                       batch_size: int = 8) -> Iterator[tuple[ResultItem, np.ndarray | Exception]]:
    """For each audio item with a ``reference``: (item, resynthesised reference or the error)."""
    pending: list[tuple[ResultItem, np.ndarray]] = []

    def flush():
        wavs = [w for _, w in pending]
        try:
            outs: list[np.ndarray | Exception] = list(resynthesize_batch(codec, wavs, n_q))
        except Exception:  # noqa: BLE001 - retry one by one so one bad item fails alone
            outs = []
            for w in wavs:
                try:
                    outs.append(resynthesize_batch(codec, [w], n_q)[0])
                except Exception as err:  # noqa: BLE001
                    outs.append(err)
        done = list(zip([it for it, _ in pending], outs))
        pending.clear()
        return done

    for item in items:
        if not item.audio_output or not item.reference:
            continue
        try:
            wav = caches.load(item.reference)
        except Exception as err:  # noqa: BLE001 - a missing reference is that item's failure
            yield item, err
            continue
        pending.append((item, wav))
        if len(pending) >= batch_size:
            yield from flush()
    if pending:
        yield from flush()
