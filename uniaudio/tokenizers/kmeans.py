"""Mini-batch k-means in numpy (k-means++ init, Sculley-style updates, Lloyd refinement) and its file.

Fitting is deterministic for a given seed and data. The saved model is an ``.npz`` with ``centers``
(float32 ``[k, D]``) and ``meta`` (a JSON string: format, k, dim, feature settings, fit stats); it is
read with ``allow_pickle=False``. :attr:`KMeansModel.digest` (sha256 of centers + feature settings) goes into
the semantic tokenizer's version.

>>> rng = np.random.default_rng(0)
>>> x = np.concatenate([rng.normal(c, 0.1, (50, 2)) for c in (0.0, 5.0)]).astype(np.float32)
>>> m = fit_kmeans(x, 2, seed=0)
>>> sorted(np.bincount(m.predict(x)).tolist())
[50, 50]
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "uniaudio-kmeans"


def _sq_dists(x: np.ndarray, centers: np.ndarray, c_norm: np.ndarray) -> np.ndarray:
    return (x * x).sum(1, keepdims=True) - 2.0 * (x @ centers.T) + c_norm[None, :]


def assign(x: np.ndarray, centers: np.ndarray, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Nearest center per row -> (labels int64 [N], squared distance [N]); chunked to bound memory."""
    c_norm = (centers * centers).sum(1)
    labels = np.empty(len(x), dtype=np.int64)
    dist = np.empty(len(x), dtype=np.float64)
    for i in range(0, len(x), chunk):
        d = _sq_dists(x[i : i + chunk], centers, c_norm)
        labels[i : i + chunk] = d.argmin(1)
        dist[i : i + chunk] = np.maximum(d[np.arange(len(d)), labels[i : i + chunk]], 0.0)
    return labels, dist


def kmeans_pp(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding (D^2 sampling) on ``x``."""
    centers = np.empty((k, x.shape[1]), dtype=np.float64)
    centers[0] = x[rng.integers(len(x))]
    d = ((x - centers[0]) ** 2).sum(1)
    for j in range(1, k):
        total = d.sum()
        idx = rng.integers(len(x)) if total <= 0 else rng.choice(len(x), p=d / total)
        centers[j] = x[idx]
        d = np.minimum(d, ((x - centers[j]) ** 2).sum(1))
    return centers


@dataclass
class KMeansModel:
    centers: np.ndarray  # float32 [k, D]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def k(self) -> int:
        return int(self.centers.shape[0])

    @property
    def digest(self) -> str:
        h = hashlib.sha256(np.ascontiguousarray(self.centers, dtype=np.float32).tobytes())
        # Only what the output depends on: the centers and the feature settings (not fit statistics).
        h.update(json.dumps(self.meta.get("features"), sort_keys=True).encode())
        return h.hexdigest()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Rows ``[N, D]`` -> nearest unit id, int64 ``[N]``."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.centers.shape[1]:
            raise ValueError(f"k-means expects [N, {self.centers.shape[1]}] features, got {list(x.shape)}")
        return assign(x, self.centers)[0]

    def save(self, path: str | Path) -> Path:
        """Write atomically (temp file + rename) so a crashed fit never leaves half a model."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "k": self.k, "dim": int(self.centers.shape[1]), **self.meta}
        tmp = p.with_name(p.name + f".tmp{os.getpid()}")
        with open(tmp, "wb") as f:
            np.savez(f, centers=self.centers.astype(np.float32), meta=np.array(json.dumps(meta, sort_keys=True)))
        os.replace(tmp, p)
        self.meta = {k: v for k, v in meta.items()}
        return p

    @classmethod
    def load(cls, path: str | Path) -> "KMeansModel":
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"k-means model {str(p)!r} does not exist")
        try:
            with np.load(p, allow_pickle=False) as z:
                if "centers" not in z or "meta" not in z:
                    raise ValueError(f"{p} is not a {FORMAT} file (needs centers and meta)")
                centers = z["centers"].astype(np.float32)
                meta = json.loads(str(z["meta"]))
        except ValueError:
            raise
        except Exception as err:  # noqa: BLE001 - truncated zip / bad member -> one line naming the file
            raise ValueError(f"{p}: corrupt or truncated k-means file ({type(err).__name__}: "
                             f"{str(err).splitlines()[0][:160] if str(err) else ''})") from None
        if meta.get("format") != FORMAT:
            raise ValueError(f"{p} is not a {FORMAT} file (format={meta.get('format')!r})")
        return cls(centers=centers, meta=meta)


def fit_kmeans(
    x: np.ndarray,
    k: int,
    seed: int = 0,
    batch_size: int = 4096,
    max_iter: int = 100,
    lloyd_iter: int = 10,
    init_points: int = 20_000,
) -> KMeansModel:
    """Fit k centers to rows of ``x`` ``[N, D]``.

    1. k-means++ on a random subset (``init_points``);
    2. ``max_iter`` mini-batch steps: each center moves toward its batch mean with rate n/(total count);
       a center that got no point after 10 steps restarts at a random batch point (dead-center restart);
    3. ``lloyd_iter`` full Lloyd iterations over all rows (cheap at the sizes used here, and they make
       the result a true local optimum rather than a mini-batch approximation).
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"k-means needs a non-empty [N, D] array, got shape {list(x.shape)}")
    if not np.isfinite(x).all():
        raise ValueError("k-means input has NaN or Inf values")
    if not 1 <= k <= len(x):
        raise ValueError(f"k={k} must be between 1 and the number of frames ({len(x)})")
    rng = np.random.default_rng(seed)
    sub = x if len(x) <= init_points else x[rng.choice(len(x), init_points, replace=False)]
    centers = kmeans_pp(sub.astype(np.float64), k, rng)
    counts = np.zeros(k, dtype=np.float64)
    for it in range(max_iter if len(x) > batch_size else 0):
        xb = x[rng.choice(len(x), batch_size, replace=False)].astype(np.float64)
        lab, _ = assign(xb, centers)
        n = np.bincount(lab, minlength=k).astype(np.float64)
        sums = np.zeros_like(centers)
        np.add.at(sums, lab, xb)
        counts += n
        hit = n > 0
        eta = n[hit] / counts[hit]
        centers[hit] += eta[:, None] * (sums[hit] / n[hit, None] - centers[hit])
        dead = np.flatnonzero(counts == 0) if it >= 10 else []
        for j in dead:
            centers[j] = xb[rng.integers(len(xb))]
    for _ in range(lloyd_iter):
        lab, _ = assign(x, centers.astype(np.float32))
        n = np.bincount(lab, minlength=k)
        sums = np.zeros_like(centers)
        np.add.at(sums, lab, x.astype(np.float64))
        new = centers.copy()
        new[n > 0] = sums[n > 0] / n[n > 0, None]
        for j in np.flatnonzero(n == 0):  # empty cluster: move it to the worst-fitted point
            _, d = assign(x, new.astype(np.float32))
            new[j] = x[int(d.argmax())]
        if np.allclose(new, centers):
            centers = new
            break
        centers = new
    labels, dist = assign(x, centers.astype(np.float32))
    meta = {"seed": seed, "n_rows": int(len(x)), "inertia": float(dist.mean()), "used": int((np.bincount(labels, minlength=k) > 0).sum())}
    return KMeansModel(centers=centers.astype(np.float32), meta=meta)
