"""``workflow run --run-dir s3://...`` takes the object-store run lock (:mod:`uniaudio.stores.lock`): while
another runner holds it, a second invocation refuses with one line naming the holder and runs no step;
after a run the lock is gone."""

import pytest

from conftest_s3 import s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures)
from tests.workflows.test_wf_runner import run, wf
from tests.workflows.wf_stepfns import calls
from uniaudio.errors import UserFacingError
from uniaudio.stores import uri as uris
from uniaudio.stores.lock import ObjectStoreLock


def test_a_second_runner_on_the_same_bucket_run_dir_is_refused(s3_bucket, tmp_path):
    run_dir = f"{s3_bucket}/runs/t"
    with ObjectStoreLock(f"{run_dir}/run.lock", owner="workflow runner pid 1 on node-a"):
        with pytest.raises(UserFacingError, match=r"runs/t is in use by workflow runner pid 1 on node-a"):
            run(wf(), run_dir, work_dir=tmp_path / "work")
    assert not uris.exists(f"{run_dir}/workflow.json") and not calls(tmp_path / "work")  # no step ran
    r = run(wf(), run_dir, work_dir=tmp_path / "work")
    assert r.ok and r.ran and not uris.exists(f"{run_dir}/run.lock")  # taken and released


def test_a_runner_whose_lock_was_taken_over_stops_before_its_next_step(s3_bucket, tmp_path, monkeypatch):
    run_dir = f"{s3_bucket}/runs/t"
    acquire = ObjectStoreLock.acquire

    def acquire_then_lose(self):  # as if the heartbeat had found another runner's record in its place
        acquire(self)
        self.lost = True

    monkeypatch.setattr(ObjectStoreLock, "acquire", acquire_then_lose)
    with pytest.raises(UserFacingError, match=r"another runner took this run's lock over .* stopped before step"):
        run(wf(), run_dir, work_dir=tmp_path / "work")
    assert not calls(tmp_path / "work")  # no step ran


def test_status_knows_whether_a_runner_holds_a_bucket_run_dir(s3_bucket):
    from workflows.state import RunStore
    from workflows.status import _runner_alive

    store = RunStore(f"{s3_bucket}/runs/s")
    with ObjectStoreLock(f"{store.uri}/run.lock", owner="workflow runner pid 2 on node-b"):
        assert _runner_alive(store)
    assert not _runner_alive(store)  # released (or stale): its "running" steps are reported stale
