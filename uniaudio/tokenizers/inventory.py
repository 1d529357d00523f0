"""Fixed symbol inventories (phones, singing phones): a JSON list whose position is the local id.

Inventories are data files shipped in ``uniaudio/tokenizers/data/``. They are append-only: a new symbol
goes at the end so existing ids never move; the file's sha256 is part of every tokenizer version, so an
edit changes the version of the tokenizers that use it. Symbol 0 is always ``<unk>``.

>>> inv = Inventory(["<unk>", "a", "b"], name="demo")
>>> ids, unk = inv.encode(["a", "c", "b", "c"])
>>> ids.tolist(), dict(unk)
([1, 0, 2, 0], {'c': 2})
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

UNK = "<unk>"
DATA_PACKAGE = "uniaudio.tokenizers.data"


class Inventory:
    """Symbol <-> local id map with ``<unk>`` at id 0."""

    def __init__(self, symbols: Sequence[str], name: str = "inventory", digest: str | None = None, limit: int | None = None):
        symbols = list(symbols)
        if not symbols or symbols[0] != UNK:
            raise ValueError(f"inventory {name!r}: the first symbol must be {UNK!r}")
        dup = [s for s, c in Counter(symbols).items() if c > 1]
        if dup:
            raise ValueError(f"inventory {name!r}: duplicate symbols {dup[:5]}")
        if limit is not None and len(symbols) > limit:
            raise ValueError(f"inventory {name!r} has {len(symbols)} symbols; the vocabulary range holds {limit}")
        self.name = name
        self.symbols = tuple(symbols)
        self.index = {s: i for i, s in enumerate(symbols)}
        self.digest = digest or hashlib.sha256(json.dumps(symbols, ensure_ascii=False).encode()).hexdigest()

    def __len__(self) -> int:
        return len(self.symbols)

    def __contains__(self, sym: str) -> bool:
        return sym in self.index

    def id(self, sym: str) -> int:
        return self.index.get(sym, 0)

    def encode(self, symbols: Iterable[str]) -> tuple[np.ndarray, Counter]:
        """Symbols -> (int16 ids, Counter of the symbols that were not in the inventory)."""
        unk: Counter = Counter()
        ids = []
        for s in symbols:
            i = self.index.get(s)
            if i is None:
                unk[s] += 1
                i = 0
            ids.append(i)
        return np.asarray(ids, dtype=np.int16), unk

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.symbols[int(i)] if 0 <= int(i) < len(self.symbols) else UNK for i in ids]


def load_inventory(file_name: str, limit: int | None = None) -> Inventory:
    """Load a packaged inventory (``data/<file_name>``) or any JSON list path."""
    p = Path(file_name)
    raw = p.read_bytes() if p.is_file() else resources.files(DATA_PACKAGE).joinpath(file_name).read_bytes()
    symbols = json.loads(raw.decode("utf-8"))
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        raise ValueError(f"inventory {file_name!r} must be a JSON list of strings")
    return Inventory(symbols, name=p.stem, digest=hashlib.sha256(raw).hexdigest(), limit=limit)
