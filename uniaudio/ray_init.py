"""Join a Ray cluster or start a loopback instance: the one Ray start-up every job shares.

Used by the tokenization and example jobs, both trainers and the workflow runner, so that an
embedded instance is always loopback-only (GCS and raylet on 127.0.0.1, no dashboard) whichever job
starts it.

>>> # started = ensure_ray(None, num_cpus=2); ...; ray.shutdown() if started else None
"""

from __future__ import annotations

import os
from typing import Any


def ensure_ray(address: str | None = None, num_cpus: int | None = None, object_store_mb: int | None = None,
               runtime_env: dict[str, Any] | None = None, **init_kwargs: Any) -> bool:
    """Connect to ``address`` (else ``$RAY_ADDRESS``) or start a local instance, unless Ray is already up.

    Returns True when this call initialised Ray (the caller shuts it down when done). ``num_cpus`` and
    ``object_store_mb`` size a local instance only (None: Ray's defaults); ``runtime_env`` and
    ``init_kwargs`` (e.g. ``logging_level``, ``log_to_driver``) go to ``ray.init`` either way.
    """
    import ray

    if ray.is_initialized():
        return False
    from uniaudio.stores.uri import storage_env

    forwarded = storage_env()  # the object store's endpoint/credentials: every worker reaches the bucket
    if os.environ.get("UNIAUDIO_TASKS_FILE"):  # a user's tasks file (uniaudio.tasks): workers load it too
        forwarded["UNIAUDIO_TASKS_FILE"] = os.environ["UNIAUDIO_TASKS_FILE"]
    if forwarded:
        runtime_env = dict(runtime_env or {})
        runtime_env["env_vars"] = {**runtime_env.get("env_vars", {}), **forwarded}
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        ray.init(address=address, runtime_env=runtime_env, **init_kwargs)
        return True
    loopback_only()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")
    ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
             object_store_memory=object_store_mb * 2**20 if object_store_mb else None, runtime_env=runtime_env,
             **init_kwargs)
    return True


def loopback_only() -> None:
    """Make the next locally started Ray instance resolve its node IP to 127.0.0.1 (see docs/ARCHITECTURE.md,
    "Trust boundaries").

    Ray 2.60 replaces ``_node_ip_address="127.0.0.1"`` by the routable address (``resolve_ip_for_localhost``)
    unless ``ray_constants.ENABLE_RAY_CLUSTER`` is off; that constant is read from
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` when Ray is first imported, so the variable alone is too late in
    a process that imported Ray already: set both (the variable reaches the GCS, raylet and agents,
    which are fresh processes). Ray Train's print patch would echo every worker line twice.
    """
    import ray._private.ray_constants as rc

    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    rc.ENABLE_RAY_CLUSTER = False
