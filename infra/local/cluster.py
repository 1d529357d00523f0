"""A loopback Ray cluster (one head + N worker nodes on 127.0.0.1) that can be stopped on its own.

    python -m infra.local.cluster start  --state-dir /tmp/ua-ray [--workers 1] [--head-cpus 1] [--worker-cpus 1]
    eval "$(python -m infra.local.cluster env --state-dir /tmp/ua-ray)"   # RAY_ADDRESS, token auth, ...
    ray job submit -- python -c 'import ray; ray.init(); print(ray.nodes())'
    python -m infra.local.cluster status --state-dir /tmp/ua-ray
    python -m infra.local.cluster stop   --state-dir /tmp/ua-ray

Each node is its own ``ray start`` with its own ``--temp-dir`` and explicitly chosen free ports, so
several clusters (several test runs) can share one machine. Token authentication (on by default in
Ray 2.60) uses a token file private to this cluster (``STATE/auth_token``), never ``~/.ray/auth_token``.
``stop`` signals only the processes of the sessions this module started (see :mod:`._procs`).
The state file ``STATE/cluster.json`` records the addresses, ports, session ids and temp dirs.

``--isolated`` (share-nothing): every node also gets its own working directory, ``TMPDIR``, ``HOME``
(with its own copy of the token, XDG and ``UNIAUDIO_CACHE_DIR`` caches) under ``<temp root>/n/<role>/``
(``RayNode.home``; the temp root is STATE or, for a long STATE path, a short /tmp dir: Unix sockets),
and ``--node-env KEY=VALUE`` (e.g. the S3 endpoint) is given to every node. Nodes then share
nothing but what the job names by URI (an object store), as on a real cluster: a step that writes a
local file on one node and reads it on another fails here instead of in production.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from infra.local._procs import (
    LOOPBACK,
    InfraError,
    child_env,
    free_ports,
    http_get,
    log_tail,
    read_json,
    session_pids,
    spawn_session,
    stop_sessions,
    wait_until,
    write_json_atomic,
)

STATE_FILE = "cluster.json"
TOKEN_FILE = "auth_token"
_WORKER_LAUNCHER = Path(__file__).with_name("ray_worker_start.py")
# Ray's Unix sockets live at TEMP/session_<38 chars>/sockets/plasma_store and AF_UNIX paths are
# limited to 107 bytes: longer temp dirs (pytest's tmp_path often is) move under a short /tmp dir.
_MAX_TEMP_DIR_LEN = 40
_NODE_PORTS = ("dashboard_agent_listen", "dashboard_agent_grpc", "runtime_env_agent", "metrics_export",
               "node_manager", "object_manager")
_HEAD_PORTS = ("gcs", "dashboard", "ray_client_server")


@dataclass
class RayNode:
    role: str                      # "head" or "worker-<i>"
    temp_dir: str
    sid: int                       # session id of every process of this node
    num_cpus: int
    ports: dict[str, int] = field(default_factory=dict)
    log: str = ""                  # the launcher's stdout/stderr
    home: str = ""                 # isolated mode: the node's own folder (home/, work/, tmp/), else ""


@dataclass
class RayClusterInfo:
    state_dir: str
    gcs_address: str               # host:port, for ray.init(address=...) and RAY_ADDRESS
    dashboard_url: str             # http://host:port, for the Jobs API
    token_path: str
    nodes: list[RayNode]
    started_at: float = 0.0
    owns_temp_root: str = ""       # a /tmp dir created for short socket paths; removed on stop

    @property
    def token(self) -> str:
        return Path(self.token_path).read_text().strip()

    def auth_headers(self) -> dict[str, str]:
        """HTTP headers a Jobs API / dashboard client needs (token auth)."""
        return {"Authorization": f"Bearer {self.token}"}

    def client_env(self) -> dict[str, str]:
        """Environment for a process that talks to this cluster (driver, ``ray job`` CLI, ``uniaudio``).

        ``RAY_ADDRESS`` is the GCS (``ray.init``); ``RAY_API_SERVER_ADDRESS`` the dashboard (``ray job``
        reads it before ``RAY_ADDRESS``); the two auth variables make Ray attach the token.
        """
        return {
            "RAY_ADDRESS": self.gcs_address,
            "RAY_API_SERVER_ADDRESS": self.dashboard_url,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": self.token_path,
        }

    def job_client(self):
        """A ``JobSubmissionClient`` for this cluster with the token attached explicitly.

        Passing the header (rather than relying on the environment) keeps it right even when the
        calling process already cached another cluster's token.
        """
        from ray.job_submission import JobSubmissionClient

        return JobSubmissionClient(self.dashboard_url, headers=self.auth_headers())

    def pids(self) -> dict[str, list[int]]:
        """Live pids per node."""
        return {n.role: session_pids(n.sid) for n in self.nodes}

    def alive_nodes(self) -> int:
        """Nodes the cluster itself reports ALIVE (dashboard state API); 0 when unreachable."""
        status, body = http_get(f"{self.dashboard_url}/api/v0/nodes?limit=100", headers=self.auth_headers())
        if status != 200:
            return 0
        rows = json.loads(body)["data"]["result"]["result"]
        return sum(1 for r in rows if r.get("state") == "ALIVE")


def _state_path(state_dir: str | os.PathLike) -> Path:
    return Path(state_dir) / STATE_FILE


def load_cluster(state_dir: str | os.PathLike) -> RayClusterInfo:
    """The cluster recorded in ``state_dir`` (raises :class:`InfraError` if there is none)."""
    raw = read_json(_state_path(state_dir), "Ray cluster")
    raw["nodes"] = [RayNode(**n) for n in raw["nodes"]]
    return RayClusterInfo(**raw)


def _save(info: RayClusterInfo) -> None:
    write_json_atomic(_state_path(info.state_dir), asdict(info))


def _node_flags(node: RayNode, num_gpus: int | None, object_store_mb: int) -> list[str]:
    p = node.ports
    flags = [
        f"--node-ip-address={LOOPBACK}",
        f"--temp-dir={node.temp_dir}",
        f"--num-cpus={node.num_cpus}",
        f"--object-store-memory={object_store_mb * 1024 * 1024}",
        f"--dashboard-agent-listen-port={p['dashboard_agent_listen']}",
        f"--dashboard-agent-grpc-port={p['dashboard_agent_grpc']}",
        f"--runtime-env-agent-port={p['runtime_env_agent']}",
        f"--metrics-export-port={p['metrics_export']}",
        f"--node-manager-port={p['node_manager']}",
        f"--object-manager-port={p['object_manager']}",
        # Random worker ports instead of the shared default pool 10002-19999 that every other
        # Ray instance on this machine also draws from.
        "--min-worker-port=0",
        "--max-worker-port=0",
        "--disable-usage-stats",
    ]
    if num_gpus is not None:
        flags.append(f"--num-gpus={num_gpus}")
    return flags


def _temp_root(state_dir: Path) -> tuple[Path, str]:
    if len(str(state_dir)) + len("/worker-9") <= _MAX_TEMP_DIR_LEN:
        return state_dir, ""
    root = Path(tempfile.mkdtemp(prefix="uaray-", dir="/tmp"))
    return root, str(root)


def _isolate(node: RayNode, base: Path, env: dict, token_path: Path, node_env: dict) -> tuple[dict, str]:
    """The node's own HOME / TMPDIR / working dir / caches / token copy -> (its env, its cwd)."""
    home, work, tmp = base / "home", base / "work", base / "tmp"
    for d in (home, work, tmp):
        d.mkdir(parents=True, exist_ok=True)
    token = home / ".ray_auth_token"
    token.write_text(token_path.read_text())
    token.chmod(0o600)
    node.home = str(base)
    return {**env, "HOME": str(home), "TMPDIR": str(tmp), "RAY_AUTH_TOKEN_PATH": str(token),
            "XDG_CACHE_HOME": str(home / ".cache"), "XDG_DATA_HOME": str(home / ".local" / "share"),
            "UNIAUDIO_CACHE_DIR": str(home / ".cache" / "uniaudio"), **node_env}, str(work)


def start_cluster(state_dir: str | os.PathLike, workers: int = 1, head_cpus: int = 1, worker_cpus: int = 1,
                  num_gpus: int | None = 0, object_store_mb: int = 256, timeout: float = 180.0,
                  isolated: bool = False, node_env: dict[str, str] | None = None) -> RayClusterInfo:
    """Start a head and ``workers`` worker nodes on 127.0.0.1; return once all are ALIVE.

    The defaults fit a 2-core box (1 + 1 logical CPUs); jobs ask for fractional CPUs
    (e.g. ``resources_per_worker={"CPU": 0.5}``) so Ray Data and Train share them.
    On any failure the processes started so far are stopped and :class:`InfraError` is raised.
    """
    state = Path(state_dir).absolute()
    state.mkdir(parents=True, exist_ok=True)
    if _state_path(state).exists():
        old = load_cluster(state)
        if any(old.pids().values()):
            raise InfraError(f"a Ray cluster recorded in {state} is still running; stop it first")
    token_path = state / TOKEN_FILE
    token_path.write_text(secrets.token_hex(32) + "\n")
    token_path.chmod(0o600)
    temp_root, owned = _temp_root(state)
    ports = iter(free_ports(len(_HEAD_PORTS) + len(_NODE_PORTS) * (1 + workers)))
    head_ports = {k: next(ports) for k in (*_HEAD_PORTS, *_NODE_PORTS)}
    info = RayClusterInfo(str(state), f"{LOOPBACK}:{head_ports['gcs']}", f"http://{LOOPBACK}:{head_ports['dashboard']}",
                          str(token_path), [], time.time(), owned)
    env = child_env({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token_path),
                     "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"},
                    # A stray RAY_AUTH_TOKEN would override the file; RAY_ADDRESS would point elsewhere.
                    drop=("RAY_AUTH_TOKEN", "RAY_ADDRESS", "RAY_API_SERVER_ADDRESS"))
    try:
        head = RayNode("head", str(temp_root / "head"), 0, head_cpus, head_ports, str(state / "logs" / "head.log"))
        cmd = [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", f"--port={head_ports['gcs']}",
               f"--dashboard-host={LOOPBACK}", f"--dashboard-port={head_ports['dashboard']}",
               "--include-dashboard=true", f"--ray-client-server-port={head_ports['ray_client_server']}",
               *_node_flags(head, num_gpus, object_store_mb)]
        _launch(info, head, cmd, *_node_env(head, temp_root, env, token_path, isolated, node_env), timeout)
        for i in range(1, workers + 1):
            node = RayNode(f"worker-{i}", str(temp_root / f"worker-{i}"), 0, worker_cpus,
                           {k: next(ports) for k in _NODE_PORTS}, str(state / "logs" / f"worker-{i}.log"))
            cmd = [sys.executable, str(_WORKER_LAUNCHER), f"--address={info.gcs_address}",
                   *_node_flags(node, num_gpus, object_store_mb)]
            _launch(info, node, cmd, *_node_env(node, temp_root, env, token_path, isolated, node_env), timeout)
        wait_until(lambda: info.alive_nodes() == 1 + workers, timeout, f"{1 + workers} ALIVE Ray nodes")
        # The Jobs API module of the dashboard comes up a little after the node table.
        wait_until(lambda: http_get(f"{info.dashboard_url}/api/jobs/", headers=info.auth_headers())[0] == 200,
                   timeout, "the Ray Jobs API")
    except BaseException:
        stop_cluster(state)
        raise
    return info


def _node_env(node: RayNode, root: Path, env: dict, token_path: Path, isolated: bool,
              node_env: dict[str, str] | None) -> tuple[dict, str | None]:
    if not isolated:
        return {**env, **(node_env or {})}, None
    return _isolate(node, root / "n" / node.role, env, token_path, node_env or {})


def _launch(info: RayClusterInfo, node: RayNode, cmd: list[str], env: dict, cwd: str | None, timeout: float) -> None:
    """Run one ``ray start`` in its own session; record the node before waiting so stop can find it."""
    proc = spawn_session(cmd, env, Path(node.log), cwd=cwd)
    node.sid = proc.pid
    info.nodes.append(node)
    _save(info)
    try:
        rc = proc.wait(timeout=timeout)
    except Exception:
        raise InfraError(f"`ray start` for the {node.role} node did not finish in {timeout:.0f} s"
                         f"{log_tail(Path(node.log))}") from None
    if rc != 0:
        raise InfraError(f"`ray start` for the {node.role} node failed (exit {rc}){log_tail(Path(node.log))}")


def stop_cluster(state_dir: str | os.PathLike, grace: float = 5.0, keep_temp: bool = False) -> list[int]:
    """Stop every process of the cluster recorded in ``state_dir``; return the pids signalled.

    Workers go first so the head does not spend the grace period reporting them dead. Idempotent.
    The grace is short on purpose: a worker node exits at once on SIGTERM, but the head's raylet
    and GCS linger 10-20 s (measured) although a loopback cluster has nothing to persist.
    The Ray temp dirs (logs, spilled objects) are removed unless ``keep_temp``.
    """
    try:
        info = load_cluster(state_dir)
    except InfraError:
        return []
    workers = [n.sid for n in info.nodes if n.role != "head"]
    heads = [n.sid for n in info.nodes if n.role == "head"]
    pids = stop_sessions(workers, grace) + stop_sessions(heads, grace)
    if not keep_temp:
        for n in info.nodes:
            shutil.rmtree(n.temp_dir, ignore_errors=True)
        if info.owns_temp_root:
            shutil.rmtree(info.owns_temp_root, ignore_errors=True)
    return pids


def cluster_status(state_dir: str | os.PathLike) -> dict:
    """Addresses, live pids per node and the ALIVE node count as the cluster reports it."""
    info = load_cluster(state_dir)
    pids = info.pids()
    return {"gcs_address": info.gcs_address, "dashboard_url": info.dashboard_url, "token_path": info.token_path,
            "running": any(pids.values()), "pids": pids,
            "alive_nodes": info.alive_nodes() if any(pids.values()) else 0}


def _main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m infra.local.cluster", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("start", "stop", "status", "env"):
        p = sub.add_parser(name)
        p.add_argument("--state-dir", required=True, help="where cluster.json, the token and the logs go")
        if name == "start":
            p.add_argument("--workers", type=int, default=1)
            p.add_argument("--head-cpus", type=int, default=1)
            p.add_argument("--worker-cpus", type=int, default=1)
            p.add_argument("--num-gpus", type=int, default=0, help="-1: let Ray detect GPUs")
            p.add_argument("--object-store-mb", type=int, default=256)
            p.add_argument("--timeout", type=float, default=180.0)
            p.add_argument("--isolated", action="store_true",
                           help="share-nothing nodes: own working dir, TMPDIR and HOME each")
            p.add_argument("--node-env", action="append", default=[], metavar="KEY=VALUE",
                           help="environment for every node (e.g. AWS_ENDPOINT_URL=...); repeatable")
        if name == "stop":
            p.add_argument("--keep-temp", action="store_true", help="keep the Ray temp dirs (logs)")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "start":
            bad = [kv for kv in a.node_env if "=" not in kv]
            if bad:
                raise InfraError(f"--node-env expects KEY=VALUE, got {bad[0]!r}")
            info = start_cluster(a.state_dir, a.workers, a.head_cpus, a.worker_cpus,
                                 None if a.num_gpus < 0 else a.num_gpus, a.object_store_mb, a.timeout,
                                 a.isolated, dict(kv.split("=", 1) for kv in a.node_env))
            print(f"Ray cluster up: {len(info.nodes)} nodes, GCS {info.gcs_address}, dashboard {info.dashboard_url}")
            print(f"client environment: eval \"$(python -m infra.local.cluster env --state-dir {a.state_dir})\"")
        elif a.cmd == "stop":
            pids = stop_cluster(a.state_dir, keep_temp=a.keep_temp)
            print(f"stopped {len(pids)} processes")
        elif a.cmd == "status":
            print(json.dumps(cluster_status(a.state_dir), indent=2))
        else:
            for k, v in load_cluster(a.state_dir).client_env().items():
                print(f"export {k}={shlex.quote(v)}")
    except InfraError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main())
