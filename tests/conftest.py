import logging
import os

import pytest

# Keep tests single-threaded per process: CI has 2 cores and Ray/torch workers share them.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture(scope="session")
def ray_session():
    """A real local Ray instance (2 CPUs, loopback, no dashboard) shared by every test of the session."""
    import ray

    from uniaudio.ray_init import ensure_ray

    # the same start-up as every job's embedded instance (loopback-only: tests/test_ray_init.py)
    started = ensure_ray(None, num_cpus=2, logging_level=logging.WARNING, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    if started:
        ray.shutdown()
