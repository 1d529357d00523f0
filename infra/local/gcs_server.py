"""A loopback GCS endpoint: gcp-storage-emulator (the GCS JSON API, pure Python) on 127.0.0.1, random port.

    python -m infra.local.gcs_server start --state-dir /tmp/ua-gcs [--port 9023] [--bucket b]
    eval "$(python -m infra.local.gcs_server env --state-dir /tmp/ua-gcs)"   # STORAGE_EMULATOR_HOST
    python -m infra.local.gcs_server stop  --state-dir /tmp/ua-gcs

Why a real server and not an in-process mock: every client (pyarrow's GCS filesystem, subprocess CLIs,
Ray workers) talks HTTP to it exactly as to a bucket, so a code path that writes a local file instead
of an object is caught. Clients are pointed at it by the standard ``STORAGE_EMULATOR_HOST``
(:meth:`GcsServerInfo.client_env`), which :mod:`uniaudio.stores.uri` and :mod:`uniaudio.stores.delta`
read. State lives in the server's memory (``--in-memory``): stopping it drops every bucket.

What this emulator does not do (measured, docs/STORES.md "On GCS"): it ignores every
``ifGenerationMatch`` precondition, and it has no XML-API listing (``GET /<bucket>?list-type=2``
answers 501), which delta-rs needs; so it proves plain object I/O, not Delta tables or locks.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass

from infra.local._procs import InfraError, http_get
from infra.local._store_server import StoreServer, StoreServerInfo

STATE_FILE = "gcs.json"
PROJECT = "uniaudio-test"


@dataclass
class GcsServerInfo(StoreServerInfo):
    def client_env(self) -> dict[str, str]:
        """The standard variable GCS clients read to use an emulator instead of Google's endpoint."""
        return {"STORAGE_EMULATOR_HOST": self.endpoint}

    def healthy(self) -> bool:
        return http_get(f"{self.endpoint}/")[0] == 200

    def make_bucket(self, name: str) -> str:
        """Create bucket ``name`` (a plain JSON-API buckets.insert); returns ``gs://name``."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        req = urllib.request.Request(f"{self.endpoint}/storage/v1/b?project={PROJECT}", method="POST",
                                     data=json.dumps({"name": name}).encode(),
                                     headers={"Content-Type": "application/json"})
        with opener.open(req, timeout=10) as r:
            if r.status != 200:
                raise InfraError(f"buckets.insert {name}: HTTP {r.status}")
        return f"gs://{name}"



SERVER = StoreServer(GcsServerInfo, "GCS emulator", "gcp-storage-emulator", "install the dev extras", STATE_FILE,
                     lambda host, port: ["start", "--host", host, "--port", str(port), "--in-memory",
                                         "--project-number", "1"],
                     drop_env=("STORAGE_EMULATOR_HOST",))


def load_gcs(state_dir) -> GcsServerInfo:
    return SERVER.load(state_dir)


def start_gcs(state_dir, port: int | None = None, timeout: float = 60.0) -> GcsServerInfo:
    """Start the emulator (bound to 127.0.0.1 only, in memory) and wait until it answers."""
    return SERVER.start(state_dir, port, timeout)


def stop_gcs(state_dir) -> list[int]:
    return SERVER.stop(state_dir)


def main(argv: list[str] | None = None) -> int:
    return SERVER.main(argv, "python -m infra.local.gcs_server", __doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
