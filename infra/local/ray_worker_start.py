"""``ray start`` for a worker node that joins a head on 127.0.0.1 and stays on loopback.

Usage (what :mod:`infra.local.cluster` runs): ``python ray_worker_start.py --address=127.0.0.1:PORT
--node-ip-address=127.0.0.1 [any other ray start flag]``.

Why this wrapper exists: Ray 2.60's CLI cannot start a loopback worker node.
- With ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (what keeps every Ray socket on 127.0.0.1) ``ray start``
  refuses to start any non-head node.
- With it at ``1``, ``ray start`` rewrites ``127.0.0.1`` in ``--address`` and ``--node-ip-address`` to
  the machine's routable address (ray-project/ray#59110), so the worker dials a GCS that only
  listens on loopback and hangs, and its agents bind 0.0.0.0.
So this wrapper runs the unchanged ``ray start`` command with the variable at ``0`` for every process
it spawns, and lifts, in this launcher process only, the two guards in the way: the CLI's multi-node
check reads ``ray_constants.ENABLE_RAY_CLUSTER``, and the localhost rewrite goes through
``services.get_node_ip_address``. Everything else (flags, validation, process start-up) is Ray's own
code. Ray is pinned (requirements/lock.txt); tests/infra checks the resulting cluster has two nodes
and only loopback sockets.
"""

from __future__ import annotations

import os
import sys

LOOPBACK = "127.0.0.1"


def main(argv: list[str]) -> int:
    # Set before importing ray: every process this node spawns inherits it and binds loopback.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    if any(a == "--head" for a in argv):
        print("ray_worker_start.py starts worker nodes only; use `ray start --head` for the head", file=sys.stderr)
        return 2
    import ray._private.ray_constants as ray_constants
    import ray._private.services as services
    from ray.scripts.scripts import main as ray_main

    ray_constants.ENABLE_RAY_CLUSTER = True  # allow the non-head branch of `ray start`

    def loopback_ip(address=None):  # noqa: ARG001 - same signature as Ray's
        return LOOPBACK

    services.get_node_ip_address = loopback_ip  # keep 127.0.0.1 as 127.0.0.1
    sys.argv = ["ray", "start", *argv]
    try:
        ray_main()
    except SystemExit as e:  # click exits through SystemExit
        return int(e.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
