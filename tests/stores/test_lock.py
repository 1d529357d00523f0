"""The object-store run lock (:mod:`uniaudio.stores.lock`) on the loopback S3 server (moto's standalone
server, which honours ``If-None-Match: *`` and ``If-Match`` on PUT and DELETE like S3 does): processes
racing for one lock, exactly one wins; a stale lock is taken over and its old holder cannot remove the
new one; release frees it; a held lock refuses with one line naming the holder."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest

from conftest_s3 import s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures by name)
from uniaudio.errors import UserFacingError
from uniaudio.stores import uri as uris
from uniaudio.stores.lock import ObjectStoreLock, holder

_RACER = textwrap.dedent("""
    import sys, time
    from uniaudio.errors import UserFacingError
    from uniaudio.stores.lock import ObjectStoreLock
    lock = ObjectStoreLock(sys.argv[1], ttl_s=30, owner=sys.argv[2])
    while time.time() < float(sys.argv[3]):  # every racer sends its PUT at the same moment
        time.sleep(0.001)
    try:
        lock.acquire()
    except UserFacingError as err:
        print("LOST", err, flush=True)
        sys.exit(0)
    print("WON", flush=True)
    time.sleep(3)  # hold it while the losers look
    lock.release()
""")


def test_racing_processes_exactly_one_wins(s3_bucket, tmp_path):
    uri = f"{s3_bucket}/run/run.lock"
    start = time.time() + 4.0  # after every interpreter has imported boto3
    procs = [subprocess.Popen([sys.executable, "-c", _RACER, uri, f"racer-{i}", str(start)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    lines = [o[0].strip() for o in outs]
    assert sum(line == "WON" for line in lines) == 1, lines
    winner = f"racer-{[line == 'WON' for line in lines].index(True)}"
    for line in lines:
        if line != "WON":  # one line naming the holder
            assert line.startswith("LOST") and winner in line and "\n" not in line, line
    assert not uris.exists(uri)  # the winner released it


def test_held_lock_refuses_then_release_frees_it(s3_bucket):
    uri = f"{s3_bucket}/run/run.lock"
    with ObjectStoreLock(uri, owner="first runner") as first:
        assert holder(uri)["owner"] == "first runner" and holder(uri)["token"] == first.record["token"]
        with pytest.raises(UserFacingError, match=r"s3://.*/run is in use by first runner"):
            ObjectStoreLock(uri, owner="second").acquire()
    assert not uris.exists(uri) and holder(uri) is None
    with ObjectStoreLock(uri, owner="second"):
        assert holder(uri)["owner"] == "second"


def test_heartbeat_keeps_it_and_a_stale_lock_is_taken_over(s3_bucket, capsys):
    uri = f"{s3_bucket}/run/run.lock"
    alive = ObjectStoreLock(uri, ttl_s=1.5, owner="alive").acquire()  # refreshed every 0.5 s
    time.sleep(3.5)
    with pytest.raises(UserFacingError, match="in use by alive"):
        ObjectStoreLock(uri, ttl_s=1.5, owner="other").acquire()
    alive.release()

    crashed = ObjectStoreLock(uri, ttl_s=1.0, owner="crashed", heartbeat=False).acquire()  # never refreshed
    time.sleep(2.5)  # > ttl by the store's clock (Last-Modified has 1 s resolution)
    assert holder(uri) is None  # stale
    taker = ObjectStoreLock(uri, ttl_s=30, owner="taker").acquire()
    assert "taking over the stale lock" in capsys.readouterr().err
    crashed.release()  # the old holder's release must not remove the new holder's lock
    rec = json.loads(uris.read_text(uri))
    assert rec["owner"] == "taker" and rec["token"] == taker.record["token"]
    taker.release()
    assert not uris.exists(uri)


def test_a_lock_needs_an_s3_key():
    with pytest.raises(UserFacingError, match="s3://bucket/key"):
        ObjectStoreLock("s3://bucket-only")
