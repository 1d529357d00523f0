"""Build a small real example store (frames from the sequence builder) for training tests."""

import numpy as np
import pyarrow as pa

from uniaudio.stores import delta
from uniaudio.stores.schema import example_store_schema, pack_f16
from uniaudio.sequence import build_sequence
from uniaudio.vocab import load_vocab


def make_example_store(uri: str, n: int = 48, seed: int = 0, cont_dim: int = 384) -> str:
    """``n`` SE and text-to-sound examples with learnable structure (target = a function of the source)."""
    v = load_vocab()
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        f = int(rng.integers(6, 16))
        if i % 4 == 3:
            task = "text_to_sound"
            segs = {"caption": rng.standard_normal((3, cont_dim)), "target": np.tile(np.arange(f)[:, None] % 7, (1, 3))}
        else:
            task = "se"
            src = rng.integers(0, 16, (f, 3))
            segs = {"source": src, "target": (src + 1) % 16}
        seq = build_sequence(task, segs, v)
        blob, dim = pack_f16(seq.cont_values) if len(seq.cont_values) else (None, None)
        rows.append(dict(task=task, dataset="synthetic", example_id=f"{task}-{i}", split="valid" if i % 8 == 0 else "train",
                         n_q=3, n_frames=seq.num_frames, prefix_len=seq.prefix_len,
                         frames=seq.frames.reshape(-1).tolist(), cont_positions=seq.cont_positions.tolist() or None,
                         cont_values=blob, cont_dim=dim, utt_ids=[f"u{i}"], fingerprint=str(i),
                         vocab_hash=v.content_hash, tokens_version=0))
    delta.append(uri, pa.Table.from_pylist(rows, schema=example_store_schema()), ["task"])
    return uri
