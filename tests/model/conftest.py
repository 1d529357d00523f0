"""Model tests: seeded and single-threaded (CI has 2 cores shared by several pytest workers)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_and_threads():
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
