"""A loopback S3 endpoint: moto's standalone server (a real S3 HTTP API) on 127.0.0.1, random port.

    python -m infra.local.s3_server start --state-dir /tmp/ua-s3 [--port 9000] [--bucket b]
    eval "$(python -m infra.local.s3_server env --state-dir /tmp/ua-s3)"   # AWS_ENDPOINT_URL, keys, ...
    python -m infra.local.s3_server stop  --state-dir /tmp/ua-s3

Why moto's server and not an in-process mock: every client (pyarrow's S3 filesystem, delta-rs'
object store, Ray workers on other nodes, subprocess CLIs) talks HTTP to it exactly as to a real
bucket, so a code path that writes a local file instead of an object is caught. Clients get the
standard AWS environment (:meth:`S3ServerInfo.client_env`); the keys are dummies moto accepts.
State lives in the server's memory: stopping it drops every bucket.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass

from infra.local._procs import InfraError, http_get
from infra.local._store_server import StoreServer, StoreServerInfo

STATE_FILE = "s3.json"
ACCESS_KEY, SECRET_KEY, REGION = "uniaudio-test", "uniaudio-test-secret", "us-east-1"


@dataclass
class S3ServerInfo(StoreServerInfo):
    def client_env(self) -> dict[str, str]:
        """The standard AWS variables every S3 client here reads (pyarrow, delta-rs, boto3)."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
                "AWS_ALLOW_HTTP": "true", "AWS_EC2_METADATA_DISABLED": "true"}

    def healthy(self) -> bool:
        return http_get(f"{self.endpoint}/moto-api/")[0] == 200

    def make_bucket(self, name: str) -> str:
        """Create bucket ``name`` (a plain CreateBucket request); returns ``s3://name``."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        req = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT", data=b"")
        with opener.open(req, timeout=10) as r:
            if r.status != 200:
                raise InfraError(f"CreateBucket {name}: HTTP {r.status}")
        return f"s3://{name}"



SERVER = StoreServer(S3ServerInfo, "S3 server", "moto_server", "install the dev extras (moto[server])", STATE_FILE,
                     lambda host, port: ["-H", host, "-p", str(port)])


def load_s3(state_dir) -> S3ServerInfo:
    return SERVER.load(state_dir)


def start_s3(state_dir, port: int | None = None, timeout: float = 60.0) -> S3ServerInfo:
    """Start the server (bound to 127.0.0.1 only) and wait until it answers."""
    return SERVER.start(state_dir, port, timeout)


def stop_s3(state_dir) -> list[int]:
    return SERVER.stop(state_dir)


def main(argv: list[str] | None = None) -> int:
    return SERVER.main(argv, "python -m infra.local.s3_server", __doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
