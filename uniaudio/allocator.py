"""Process allocator tuning for CPU inference on long audio.

Why: a 16 kHz encoder's activations are large (SEANet stage 0 holds 32 channels x 16,000 values per
second of audio: ~82 MB for a batch of 4 x 10 s). glibc serves every allocation above its mmap
threshold (dynamic, but capped at 32 MB on 64-bit) with a fresh ``mmap`` and unmaps it again on free,
so every layer's output is page-faulted in from zero, 4 KiB at a time. On a 1-thread codec encode that
costs about half of the CPU time (measured by ``benchmarks/codec_encode.py``: 16x -> 30x real time).
Raising the mmap and trim thresholds keeps freed blocks in the heap for the next layer to reuse, which
is what tcmalloc/jemalloc do by default (the usual ``LD_PRELOAD`` advice for PyTorch CPU inference),
without a preload or an extra system package.

Call it once, early, in a process that does heavy CPU inference (a codec actor, ``uniaudio codec
encode``). The cost is that the process keeps its peak heap instead of returning it to the OS, which
is what a dedicated encoding worker wants. It does nothing (and says so) off glibc.

>>> from uniaudio.allocator import keep_freed_memory
>>> keep_freed_memory() in (True, False)
True
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

# mallopt parameter numbers from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

#: allocations up to this size come from the heap instead of their own mmap. Setting it explicitly also
#: turns off glibc's dynamic threshold (capped at 32 MiB). mallopt's return value says whether glibc took
#: it; glibc 2.36 (Debian 12) does, measured by tests/test_allocator.py.
DEFAULT_MMAP_THRESHOLD = 1 << 30
DEFAULT_TRIM_THRESHOLD = (1 << 31) - 1

_applied: bool | None = None


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        libc.gnu_get_libc_version()  # raises AttributeError on musl & co.
        return libc
    except (OSError, AttributeError):
        return None


def applied() -> bool | None:
    """Whether :func:`keep_freed_memory` took effect in this process (None: not called yet)."""
    return _applied


def keep_freed_memory(mmap_threshold: int = DEFAULT_MMAP_THRESHOLD,
                      trim_threshold: int = DEFAULT_TRIM_THRESHOLD) -> bool:
    """Make glibc keep freed large blocks for reuse; True when it took effect. Idempotent."""
    global _applied
    if _applied is not None:
        return _applied
    libc = _libc()
    if libc is None:
        log.info("allocator tuning skipped: not glibc on Linux")
        _applied = False
        return False
    ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))) and bool(
        libc.mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)))
    if not ok:
        log.warning("glibc refused mallopt(M_MMAP_THRESHOLD=%d); large tensors stay mmap-backed", mmap_threshold)
    _applied = ok
    return ok
