"""A one-rank gloo process group on 127.0.0.1, as DeepSpeed expects it (env vars + torch.distributed)."""

import contextlib
import os
import socket


@contextlib.contextmanager
def single_rank_process_group():
    import torch.distributed as dist

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"LOCAL_RANK": "0", "RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()
        # DeepSpeed caches the communication backend (and its group) in a module global; drop it so a
        # later group in the same test session is picked up instead of the destroyed one.
        import sys

        ds_comm = sys.modules.get("deepspeed.comm.comm")
        if ds_comm is not None:
            ds_comm.cdb = None
        groups = sys.modules.get("deepspeed.utils.groups")
        if groups is not None:  # its cached process groups belong to the destroyed default group
            for name in ("_WORLD_GROUP", "_ZERO_PARAM_INTRA_PARALLEL_GROUP", "_DATA_PARALLEL_GROUP",
                         "_MODEL_PARALLEL_GROUP", "_TENSOR_MODEL_PARALLEL_GROUP"):
                if hasattr(groups, name):
                    setattr(groups, name, None)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
