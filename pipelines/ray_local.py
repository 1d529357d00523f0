"""Join a Ray cluster, or start a loopback instance: the one start-up the Ray Data jobs share."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, Iterator


def ensure_ray(address: str | None, num_cpus: int | None = None, object_store_mb: int | None = None) -> bool:
    """Connect to ``address`` or start a local instance unless Ray is already up; True if we started it.

    The local instance binds to 127.0.0.1 and has no dashboard; ``num_cpus`` / ``object_store_mb`` size
    it (None: Ray's defaults). With an address, the cluster's own sizes apply.
    """
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address:
        ray.init(address=address, logging_level=logging.WARNING)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
                 object_store_memory=object_store_mb * 2**20 if object_store_mb else None,
                 logging_level=logging.WARNING)
    return True


@contextlib.contextmanager
def job_data_context(settings: dict[str, Any]) -> Iterator[Any]:
    """Ray Data's process-global ``DataContext`` set for one job, restored afterwards.

    Applies ``settings`` (DataContext attributes), turns off ``preserve_order`` (the jobs key their rows
    by id, so a slow block should not hold back the others) and quiets the ``ray.data`` logger to
    warnings; the caller may run other Ray Data work in the same process afterwards.
    """
    import ray.data

    ctx = ray.data.DataContext.get_current()
    saved = {k: getattr(ctx, k) for k in settings}
    saved_order = ctx.execution_options.preserve_order
    logger = logging.getLogger("ray.data")
    saved_level = logger.level
    try:
        for k, v in settings.items():
            setattr(ctx, k, v)
        ctx.execution_options.preserve_order = False
        logger.setLevel(logging.WARNING)
        yield ctx
    finally:
        for k, v in saved.items():
            setattr(ctx, k, v)
        ctx.execution_options.preserve_order = saved_order
        logger.setLevel(saved_level)
