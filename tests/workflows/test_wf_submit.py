"""The parts of ``workflow submit`` that need no cluster: DAG reference, token discovery, errors.
(The submission itself runs against a real loopback cluster in test_wf_cluster.py.)"""

import pytest

from uniaudio.errors import UserFacingError
from workflows.submit import EXCLUDES, _dag_reference, find_token, job_client, project_root, submit


def test_dag_reference_inside_and_outside_the_project(tmp_path):
    root = project_root()
    assert (root / "workflows" / "demo.yaml").is_file()
    assert _dag_reference(root / "workflows" / "demo.yaml", root, str(tmp_path / "run")) == "workflows/demo.yaml"
    outside = tmp_path / "my.yaml"
    outside.write_text("name: x\n")
    ref = _dag_reference(outside, root, str(tmp_path / "run"))
    assert ref == str(tmp_path / "run" / "submitted" / "my.yaml")  # travels through the shared run dir
    assert (tmp_path / "run" / "submitted" / "my.yaml").read_text() == "name: x\n"
    for big in (".venv", ".git", "runs", "demo_out"):
        assert big in EXCLUDES


def test_token_discovery_order(tmp_path, monkeypatch):
    f1, f2 = tmp_path / "t1", tmp_path / "t2"
    f1.write_text("from-file\n")
    f2.write_text("from-path-env\n")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ray/auth_token
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    assert find_token() is None
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(f2))
    assert find_token() == "from-path-env"
    monkeypatch.setenv("RAY_AUTH_TOKEN", "from-env")
    assert find_token() == "from-env"
    assert find_token(str(f1)) == "from-file"
    with pytest.raises(UserFacingError, match="does not exist"):
        find_token(str(tmp_path / "missing"))


def test_submit_validates_the_dag_before_contacting_anything(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\nsteps:\n  a: {kind: nope}\n")
    with pytest.raises(UserFacingError, match="steps.a.kind: unknown kind 'nope'"):
        submit(str(bad), "http://127.0.0.1:9", str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_unreachable_jobs_api_is_a_clear_error(tmp_path):
    tok = tmp_path / "tok"
    tok.write_text("abc")
    with pytest.raises(UserFacingError, match="cannot reach the Ray Jobs API at http://127.0.0.1:9"):
        job_client("http://127.0.0.1:9", str(tok))
