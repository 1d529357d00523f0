"""keep_freed_memory(): large layer outputs reuse freed heap instead of page-faulting fresh mmaps."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from uniaudio.allocator import _libc

# Encode 4 x 10 s through a SEANet encoder three times and count minor page faults of the last pass: stage 0
# outputs are 4 x 32 x 160,000 floats (82 MB), above glibc's 32 MB dynamic mmap-threshold cap.
PROBE = r"""
import json, resource, sys
if sys.argv[1] == "tuned":
    from uniaudio.allocator import keep_freed_memory
    assert keep_freed_memory()
import torch
from codec import chunked_encode
from codec.seanet import SEANetEncoder
chunked_encode.ENABLED = sys.argv[1] == "chunked"  # the layer-by-layer module path unless asked
torch.set_num_threads(1)
torch.manual_seed(0)
enc = SEANetEncoder(channels=32, dimension=8, lstm_layers=0, weight_norm=False).eval()
x = torch.randn(4, 1, 160000)
with torch.no_grad():
    enc(x)  # warm-up passes: the heap grows to its peak and settles
    enc(x)
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    enc(x)
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0))
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(_libc() is None, reason="allocator tuning applies to glibc on Linux only")
def test_keep_freed_memory_removes_page_faults_of_repeated_encodes():
    default, tuned = _faults("default"), _faults("tuned")
    # default: every 82 MB output is a fresh mmap (~20k faults each); tuned: the heap is reused
    assert default > 20_000, default
    assert tuned < default / 20, (tuned, default)


@pytest.mark.skipif(_libc() is None, reason="allocator tuning applies to glibc on Linux only")
def test_chunked_early_stages_avoid_most_page_faults_without_tuning():
    """codec/chunked_encode.py's reason to exist: item by item, chunk by chunk, its buffers stay small."""
    default, chunked = _faults("default"), _faults("chunked")
    assert chunked < default / 10, (chunked, default)  # measured: 12k vs 487k


def test_keep_freed_memory_is_idempotent():
    from uniaudio.allocator import keep_freed_memory

    first = keep_freed_memory()
    assert keep_freed_memory() is first
