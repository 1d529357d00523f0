"""``cluster --isolated``: what each node is given (no Ray started here; the running cluster is
tests/infra/test_share_nothing.py, slow)."""

from conftest_infra import _REPO  # noqa: F401  (puts the checkout on sys.path)
from infra.local.cluster import RayNode, _node_env


def test_each_node_gets_its_own_home_tmp_cwd_caches_and_token(tmp_path):
    token = tmp_path / "auth_token"
    token.write_text("secret\n")
    envs = {}
    for role in ("head", "worker-1"):
        node = RayNode(role, str(tmp_path / "t" / role), 0, 1)
        env, cwd = _node_env(node, tmp_path, {"PATH": "/bin"}, token, True, {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
        base = tmp_path / "n" / role
        assert node.home == str(base) and cwd == str(base / "work")
        assert env["HOME"] == str(base / "home") and env["TMPDIR"] == str(base / "tmp")
        assert env["UNIAUDIO_CACHE_DIR"].startswith(env["HOME"]) and env["XDG_CACHE_HOME"].startswith(env["HOME"])
        assert env["RAY_AUTH_TOKEN_PATH"] != str(token) and open(env["RAY_AUTH_TOKEN_PATH"]).read() == "secret\n"
        assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9" and env["PATH"] == "/bin"
        envs[role] = env
    assert envs["head"]["HOME"] != envs["worker-1"]["HOME"]
    shared, cwd = _node_env(RayNode("head", "x", 0, 1), tmp_path, {"PATH": "/bin"}, token, False, None)
    assert cwd is None and shared == {"PATH": "/bin"}  # the default mode is unchanged
