"""Offline checks of the container image definitions (Docker cannot run here)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "infra" / "docker" / "Dockerfile"
MLFLOW_DOCKERFILE = REPO / "infra" / "mlflow" / "Dockerfile"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements" / "lock.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[_norm(name.strip())] = version.strip()
    return pins


def _copy_sources(dockerfile: Path) -> list[str]:
    srcs = []
    for line in dockerfile.read_text().splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            parts = line.split()[1:]
            srcs += [p for p in parts[:-1] if not p.startswith("--")]
    return srcs


def test_every_copied_path_exists_in_the_build_context():
    for df in (DOCKERFILE, MLFLOW_DOCKERFILE):
        srcs = _copy_sources(df)
        assert srcs, df
        for src in srcs:
            assert src == "." or (REPO / src).exists(), f"{df.name}: COPY {src} does not exist"


def test_image_installs_cuda_torch_first_at_the_locked_version():
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG CUDA_IMAGE=nvidia/cuda:\S+-devel-ubuntu22\.04$", text, re.M)
    assert "ARG PYTHON=3.11" in text
    torch_line = text.index("download.pytorch.org/whl/${TORCH_CUDA}")
    assert torch_line < text.index('"-c", "requirements/lock.txt"') < text.index("COPY . .")
    # the shell pipeline that picks torch's version really yields the lock's pin
    assert "grep -E '^torch==' requirements/lock.txt | sed 's/^torch==//; s/+.*//'" in text
    assert re.match(r"^\d+\.\d+\.\d+$", _lock()["torch"].split("+")[0])
    assert "uniaudio --help" in text and "pip check" in text
    assert re.search(r"^USER ray$", text, re.M)


def test_every_project_dependency_is_pinned_in_the_lock():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = _lock()
    names = [_norm(re.split(r"[\s\[<>=!~;]", d, maxsplit=1)[0]) for d in deps]
    assert "torch" in names
    unpinned = [n for n in names if n not in pins]
    assert not unpinned, f"dependencies missing from requirements/lock.txt: {unpinned}"


def test_mlflow_image_pins_match_the_lock():
    text = MLFLOW_DOCKERFILE.read_text()
    assert "pip install -c /tmp/lock.txt mlflow Flask-WTF" in text
    pins = _lock()
    assert pins["mlflow"] and pins["flask-wtf"]
    assert re.search(r"psycopg2-binary==\d", text)


def test_build_context_filter_keeps_local_state_out():
    ignore = (REPO / "infra" / "docker" / "Dockerfile.dockerignore").read_text().split()
    for entry in (".venv", ".git", "mlruns", "/demo_out"):
        assert entry in ignore


def test_make_targets_named_in_infra_docs_exist():
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([a-zA-Z][\w-]*):", makefile, re.M))
    docs = [p for p in (REPO / "infra").rglob("*") if p.suffix in (".md", ".yaml", ".sh", "")] + [
        REPO / "docs" / "CAPACITY.md", REPO / "docs" / "TASKS_GUIDE.md"]
    used = set()
    for p in docs:
        if p.is_file():
            used |= set(re.findall(r"`make ([a-z][\w-]*)", p.read_text(errors="replace")))
    assert used, "infra docs name no make target"
    assert used <= targets, used - targets
