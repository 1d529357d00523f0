"""Offline validation of the deployable templates: KubeRay, the MLflow deployment, the cluster launcher.

Nothing here talks to a cloud or a Kubernetes API. What can be checked offline is checked against
the installed tools themselves: flags against the ``ray start`` / ``mlflow server`` commands, the
launcher YAML through Ray's own validator, the auth ini through MLflow's own parser, and every
cross-reference (Secrets, ConfigMaps, images, entry points, files) against the repository.
"""

from __future__ import annotations

import copy
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _by_kind(*paths: Path) -> dict[tuple[str, str], dict]:
    out = {}
    for p in paths:
        for d in _docs(p):
            out[(d["kind"], d["metadata"]["name"])] = d
    return out


def _ray_start_flags() -> set[str]:
    from ray.scripts.scripts import start

    return {o.lstrip("-") for p in start.params for o in p.opts if o.startswith("--")}


def _mlflow_server_flags() -> set[str]:
    from mlflow.cli import server

    return {o for p in server.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")}


def _containers(obj: dict) -> list[dict]:
    """Every container spec anywhere under ``obj``."""
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "containers" and isinstance(v, list):
                found += v
            else:
                found += _containers(v)
    elif isinstance(obj, list):
        for v in obj:
            found += _containers(v)
    return found


def _refs(obj, key: str) -> list[dict]:
    """All dict values under keys named ``key`` (e.g. secretKeyRef, configMapRef)."""
    if isinstance(obj, dict):
        return [v for k, v in obj.items() if k == key] + [r for v in obj.values() for r in _refs(v, key)]
    if isinstance(obj, list):
        return [r for v in obj for r in _refs(v, key)]
    return []


K8S = _by_kind(INFRA / "k8s" / "config.yaml", INFRA / "k8s" / "raycluster.yaml", INFRA / "k8s" / "rayjob.yaml",
               INFRA / "mlflow" / "mlflow.yaml", INFRA / "mlflow" / "secret.example.yaml",
               INFRA / "mlflow" / "postgres.yaml")
EXPECTED_API = {"PersistentVolumeClaim": "v1", "Namespace": "v1", "ServiceAccount": "v1", "ConfigMap": "v1", "Secret": "v1", "Service": "v1",
                "Deployment": "apps/v1", "StatefulSet": "apps/v1", "RayCluster": "ray.io/v1", "RayJob": "ray.io/v1"}


def test_manifests_have_known_api_versions_and_one_namespace():
    kinds = {k for k, _ in K8S}
    assert {"RayCluster", "RayJob", "Deployment", "Service", "ConfigMap", "Secret"} <= kinds
    for (kind, name), doc in K8S.items():
        assert doc["apiVersion"] == EXPECTED_API[kind], (kind, name)
        if kind != "Namespace":
            assert doc["metadata"]["namespace"] == "uniaudio", (kind, name)


def test_raycluster_gpu_workers_and_ray_start_params():
    import ray

    rc = K8S[("RayCluster", "uniaudio")]["spec"]
    assert rc["rayVersion"] == ray.__version__  # the image's Ray must match the pinned one
    assert rc["authOptions"]["mode"] == "token"
    flags = _ray_start_flags()
    groups = [rc["headGroupSpec"], *rc["workerGroupSpecs"]]
    for g in groups:
        unknown = set(g["rayStartParams"]) - flags
        assert not unknown, f"not `ray start` flags: {unknown}"
        assert all(isinstance(v, str) for v in g["rayStartParams"].values())  # KubeRay wants strings
    (gpu,) = rc["workerGroupSpecs"]
    (c,) = gpu["template"]["spec"]["containers"]
    assert gpu["rayStartParams"]["num-gpus"] == "8"
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "8" == c["resources"]["requests"]["nvidia.com/gpu"]
    assert gpu["minReplicas"] <= gpu["replicas"] <= gpu["maxReplicas"]
    assert rc["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    # object-store paths reach every Ray container through the shared ConfigMap
    for cont in _containers(rc):
        assert {"name": "uniaudio-paths"} in _refs(cont, "configMapRef")
    paths = K8S[("ConfigMap", "uniaudio-paths")]["data"]
    for key in ("UNIAUDIO_TOKEN_STORE", "UNIAUDIO_EXAMPLE_STORE"):
        assert re.match(r"^(s3|gs)://", paths[key]), key
    # the run dir (checkpoints, exports) is on the shared volume every Ray pod mounts
    assert paths["UNIAUDIO_RUN_DIR"].startswith("/data/")
    claim = K8S[("PersistentVolumeClaim", "uniaudio-data")]["spec"]
    assert claim["accessModes"] == ["ReadWriteMany"]
    for tmpl in [rc["headGroupSpec"]["template"], *(g["template"] for g in rc["workerGroupSpecs"])]:
        vols = {v["name"]: v for v in tmpl["spec"]["volumes"]}
        (c,) = tmpl["spec"]["containers"]
        mount = next(m for m in c["volumeMounts"] if m["mountPath"] == "/data")
        assert vols[mount["name"]]["persistentVolumeClaim"]["claimName"] == "uniaudio-data"
    assert paths["MLFLOW_TRACKING_URI"].startswith("http://mlflow.uniaudio.svc")


def test_all_ray_pods_use_one_project_image_and_existing_refs():
    rc, job = K8S[("RayCluster", "uniaudio")], K8S[("RayJob", "uniaudio-full")]
    images = {c["image"] for c in _containers(rc) + _containers(job)}
    assert len(images) == 1 and images.pop().endswith("/uniaudio:0.1.0")
    for doc in (rc, job, K8S[("Deployment", "mlflow")]):
        for ref in _refs(doc, "secretKeyRef"):
            secret = K8S[("Secret", ref["name"])]
            assert ref["key"] in secret["stringData"], ref
        for ref in _refs(doc, "secretRef") + _refs(doc, "configMapRef"):
            assert ref.get("optional") or any(name == ref["name"] for _, name in K8S), ref
    assert rc["spec"]["authOptions"]["secretName"] in {n for k, n in K8S if k == "Secret"}
    assert ("Secret", "ray-auth-token") in K8S and "auth_token" in K8S[("Secret", "ray-auth-token")]["stringData"]
    # example secrets hold placeholders only
    for (kind, name), doc in K8S.items():
        if kind == "Secret":
            for key, value in doc["stringData"].items():
                assert "CHANGE-ME" in value or key == "MLFLOW_TRACKING_USERNAME", (name, key)


def test_rayjob_entrypoint_is_a_valid_workflow_command(tmp_path):
    job = K8S[("RayJob", "uniaudio-full")]["spec"]
    rc = K8S[("RayCluster", "uniaudio")]
    assert job["clusterSelector"]["ray.io/cluster"] == rc["metadata"]["name"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["uniaudio"] == "uniaudio.cli:main"
    # the workdir of the Ray containers is the image's copy of the repo, where the DAG path resolves
    for c in _containers(rc):
        assert c["workingDir"] == "/opt/uniaudio"
    assert "WORKDIR /opt/uniaudio" in (INFRA / "docker" / "Dockerfile").read_text()
    # expand $VARS as the job's shell will, from the ConfigMap every Ray pod loads
    paths = K8S[("ConfigMap", "uniaudio-paths")]["data"]
    argv = [re.sub(r"\$(\w+)", lambda m: paths[m.group(1)], a) for a in shlex.split(job["entrypoint"])]
    assert argv[:4] == ["uniaudio", "workflow", "run", "workflows/full.yaml"]
    sets = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--set")
    (gpu,) = rc["spec"]["workerGroupSpecs"]
    assert int(sets["vars.nodes"]) == gpu["replicas"] and int(sets["vars.gpus"]) == 8 * gpu["replicas"]
    # the real CLI accepts the command and the real DAG validates with these overrides
    from tests.workflows.tiny_weights import tiny_hubert_dir, tiny_t5_dir  # the cluster's /data/models stand-ins

    weights = ["--set", f"vars.t5_dir={tiny_t5_dir(tmp_path / 't5')}", "--set", f"vars.hubert_dir={tiny_hubert_dir(tmp_path / 'h')}"]
    out = subprocess.run([sys.executable, "-m", "uniaudio", *argv[1:], *weights, "--dry-run"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "train_lm" in out.stdout and "tokenize[librilight]" in out.stdout


def test_mlflow_deployment_flags_auth_and_probes(tmp_path, monkeypatch):
    dep = K8S[("Deployment", "mlflow")]["spec"]["template"]["spec"]
    (c,) = dep["containers"]
    assert c["command"] == ["mlflow", "server"]
    flags = _mlflow_server_flags()
    given = {a.split("=", 1)[0] for a in c["args"]}
    assert given <= flags, given - flags
    args = dict(a.split("=", 1) if "=" in a else (a, "") for a in c["args"])
    assert args["--app-name"] == "basic-auth"
    assert args["--backend-store-uri"] == "$(MLFLOW_BACKEND_STORE_URI)"
    env_names = {e["name"] for e in c["env"]} | set(K8S[("ConfigMap", "mlflow-server")]["data"])
    for var in re.findall(r"\$\((\w+)\)", " ".join(c["args"])):
        assert var in env_names, var  # Kubernetes expands $(VAR) only for defined variables
    cfg = K8S[("ConfigMap", "mlflow-server")]["data"]
    assert cfg["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert cfg["MLFLOW_ARTIFACTS_DESTINATION"].startswith("s3://")
    mount = next(m for m in c["volumeMounts"] if m["name"] == "auth-config")
    assert Path(cfg["MLFLOW_AUTH_CONFIG_PATH"]).parent == Path(mount["mountPath"])
    assert c["readinessProbe"]["httpGet"]["path"] == "/health"
    svc = K8S[("Service", "mlflow")]["spec"]
    assert svc["type"] == "ClusterIP" and svc["ports"][0]["port"] == 5000
    assert svc["selector"] == K8S[("Deployment", "mlflow")]["spec"]["selector"]["matchLabels"]
    # the example auth ini is read by MLflow's own parser
    ini = tmp_path / "basic_auth.ini"
    ini.write_text(K8S[("Secret", "mlflow-auth-config")]["stringData"][Path(cfg["MLFLOW_AUTH_CONFIG_PATH"]).name])
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(ini))
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "x")
    from mlflow.server.auth.config import read_auth_config

    auth = read_auth_config()
    assert auth.database_uri.startswith("postgresql://") and auth.admin_username == "admin"


def _launcher() -> dict:
    return yaml.safe_load((INFRA / "cluster-launcher" / "aws-gpu.yaml").read_text())


def test_cluster_launcher_yaml_passes_rays_validator():
    from ray.autoscaler._private.util import prepare_config, validate_config

    cfg = _launcher()
    validate_config(prepare_config(copy.deepcopy(cfg)))
    gpu = cfg["available_node_types"]["gpu-h100x8"]
    assert gpu["resources"]["GPU"] == 8 and gpu["node_config"]["InstanceType"] == "p5.48xlarge"
    # a typo is caught: the validator is really applied
    bad = copy.deepcopy(cfg)
    bad["available_node_types"]["gpu-h100x8"]["min_worker"] = 1
    with pytest.raises(Exception, match="min_worker"):
        validate_config(prepare_config(bad))


def test_cluster_launcher_start_commands_and_mounts():
    cfg = _launcher()
    flags = _ray_start_flags()
    for cmd in cfg["head_start_ray_commands"] + cfg["worker_start_ray_commands"]:
        if "ray start" not in cmd:
            assert cmd == "ray stop"
            continue
        used = set(re.findall(r"\s--([a-z][a-z-]+)", cmd.split("ray start", 1)[1]))
        assert used <= flags, used - flags
        assert "RAY_AUTH_MODE=token" in cmd and "--disable-usage-stats" in cmd
    assert "--dashboard-host=127.0.0.1" in cfg["head_start_ray_commands"][1]
    for remote, local in cfg["file_mounts"].items():
        if not local.startswith("~"):
            assert (REPO / local).is_dir(), local
    env_file = REPO / cfg["file_mounts"]["/home/ubuntu/uniaudio-env"] / "uniaudio.env"
    keys = {line.split("=", 1)[0] for line in env_file.read_text().splitlines() if line and not line.startswith("#")}
    assert keys >= {"UNIAUDIO_TOKEN_STORE", "UNIAUDIO_EXAMPLE_STORE", "UNIAUDIO_RUN_DIR", "MLFLOW_TRACKING_URI"}
    assert any("/data" in c for c in cfg["initialization_commands"]) and "-v /data:/data" in cfg["docker"]["run_options"]
    assert K8S[("ConfigMap", "uniaudio-paths")]["data"].keys() >= keys - {"MLFLOW_TRACKING_URI"}
