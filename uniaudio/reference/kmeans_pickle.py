"""Read the published k-means (``hubert_base_ls960_L9_km500.bin``: a ``joblib.dump`` of a scikit-learn
``MiniBatchKMeans``) without executing anything from the file.

A joblib file is a pickle with raw array bytes inlined after each ``NumpyArrayWrapper``. It is read with
joblib's own unpickler, restricted: :meth:`_Restricted.find_class` admits only the numpy / joblib
globals such a file names (dtype, ndarray reconstruction, numpy scalars, the array wrapper) and the
k-means estimator classes; the estimator is bound to :class:`EstimatorState`, an inert holder of its
pickled attributes (no scikit-learn code runs). Anything else (``os.system``, ``builtins.eval``, any
other class) is refused with one line naming it, and so is an object-dtype array (its payload would be
a nested pickle).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from uniaudio.errors import UserFacingError

NUMPY = {
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
}
JOBLIB = {("joblib.numpy_pickle", "NumpyArrayWrapper"), ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper")}
ESTIMATORS = {("sklearn.cluster._kmeans", "MiniBatchKMeans"), ("sklearn.cluster._kmeans", "KMeans"),
              ("sklearn.cluster.k_means_", "MiniBatchKMeans"), ("sklearn.cluster.k_means_", "KMeans")}
COPYREG = {("copyreg", "_reconstructor"), ("builtins", "object")}


class EstimatorState:
    """Stands in for a pickled scikit-learn k-means: keeps its attribute dict, runs nothing."""

    def __setstate__(self, state: Any) -> None:
        self.state = state if isinstance(state, dict) else {}


def _restricted_class():
    from joblib.numpy_pickle import NumpyArrayWrapper, NumpyUnpickler

    class _Restricted(NumpyUnpickler):
        dispatch = NumpyUnpickler.dispatch.copy()

        def find_class(self, module: str, name: str):
            key = (module, name)
            if key in ESTIMATORS:
                return EstimatorState
            if key in NUMPY:
                mod = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
                return {"dtype": np.dtype, "ndarray": np.ndarray, "_reconstruct": mod._reconstruct,
                        "scalar": mod.scalar}[name]
            if key in JOBLIB:
                return NumpyArrayWrapper
            if key in COPYREG:
                import copyreg

                return copyreg._reconstructor if name == "_reconstructor" else object
            raise UserFacingError(f"refused: the file references {module}.{name}, which is not one of the numpy / "
                                  f"scikit-learn k-means classes this reader admits")

        def load_build(self):
            from pickle import _Unpickler

            _Unpickler.load_build(self)
            top = self.stack[-1]
            if isinstance(top, NumpyArrayWrapper):
                if np.dtype(top.dtype).hasobject:
                    raise UserFacingError("refused: an object-dtype array (its payload is a nested pickle)")
                self.stack.pop()
                self.stack.append(top.read(self, self.ensure_native_byte_order))

        import pickle as _p

        dispatch[_p.BUILD[0]] = load_build

    return _Restricted


def read_kmeans_centers(path: str | Path) -> np.ndarray:
    """``cluster_centers_`` (float32 ``[k, D]``) of a joblib-pickled scikit-learn k-means."""
    p = Path(path)
    if not p.is_file():
        raise UserFacingError(f"{p}: no such k-means file")
    cls = _restricted_class()
    try:
        with open(p, "rb") as f:
            obj = cls(str(p), f, ensure_native_byte_order=True).load()
    except UserFacingError as err:
        raise UserFacingError(f"{p}: {err}") from None
    except Exception as err:  # noqa: BLE001 - truncated / not a pickle
        msg = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
        raise UserFacingError(f"{p}: corrupt or truncated k-means file ({type(err).__name__}: {msg})") from None
    if not isinstance(obj, EstimatorState):
        raise UserFacingError(f"{p}: holds a {type(obj).__name__}, not a scikit-learn k-means")
    centers = obj.state.get("cluster_centers_")
    if not isinstance(centers, np.ndarray) or centers.ndim != 2 or not np.issubdtype(centers.dtype, np.floating):
        raise UserFacingError(f"{p}: the k-means has no float cluster_centers_ [k, D]")
    if not np.isfinite(centers).all():
        raise UserFacingError(f"{p}: cluster_centers_ hold NaN or Inf")
    return centers.astype(np.float32)
