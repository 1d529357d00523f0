"""Ray Data's process-global settings for one job, shared by the tokenization and example jobs."""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterator


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
