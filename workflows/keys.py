"""Step keys: a content hash of what a step computes from.

``key = sha256(kind, kind version, config as written, identity of every input, fingerprint)[:20]``

* an input's identity is the identity its producer recorded for that output (a Delta table version,
  a checkpoint content hash, a dataset's manifest fingerprint), or else ``{"step_key": <producer key>,
  "output": name}`` — so identities chain and a change anywhere upstream changes every key downstream,
  and nothing else;
* the config is hashed as written, with ``${run_dir}`` left symbolic: moving a run directory keeps
  every key;
* ``fingerprint`` is what the kind computes from outside the DAG just before running (e.g. the
  manifest fingerprints of the dataset a tokenize step reads).

>>> a = step_key("tokenize", 1, {"dataset": "sfx"}, {"codec": {"content_hash": "ab"}})
>>> a == step_key("tokenize", 1, {"dataset": "sfx"}, {"codec": {"content_hash": "ab"}})
True
>>> a != step_key("tokenize", 1, {"dataset": "sfx"}, {"codec": {"content_hash": "cd"}})
True
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

KEY_LEN = 20


def canonical(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, tuples as lists; NaN/inf refused (not stable)."""

    def norm(x: Any) -> Any:
        if isinstance(x, dict):
            return {str(k): norm(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [norm(v) for v in x]
        if isinstance(x, float) and not math.isfinite(x):
            raise ValueError(f"cannot hash a non-finite number {x!r}")
        if x is None or isinstance(x, (str, int, float, bool)):
            return x
        return str(x)

    return json.dumps(norm(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(obj: Any, n: int = KEY_LEN) -> str:
    return hashlib.sha256(canonical(obj).encode()).hexdigest()[:n]


def output_identity(producer_key: str, output: str, identity: dict[str, Any]) -> Any:
    """What a downstream key hashes for ``producer.output``."""
    if output in identity and identity[output] is not None:
        return identity[output]
    return {"step_key": producer_key, "output": output}


def step_key(kind: str, version: int, config: dict[str, Any], inputs: dict[str, Any], fingerprint: Any = None) -> str:
    return digest({"kind": kind, "version": version, "config": config, "inputs": inputs, "fingerprint": fingerprint})
