"""Fixtures of the published-checkpoint importer tests (helpers: ``ref_helpers.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.reference.ref_helpers import ASSETS, published_exp


@pytest.fixture(scope="session")
def golden_io() -> dict:
    return torch.load(ASSETS / "lm_io.pt", map_location="cpu", weights_only=True)


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory) -> str:
    """One sqlite MLflow store for every import of the session (creating a store costs seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="session")
def imported_lm(tmp_path_factory, mlflow_uri) -> tuple[Path, Path, object]:
    """(experiment dir, export dir, ImportResult) of one import of the published-style checkpoint."""
    from uniaudio.reference.lm_import import import_lm

    root = tmp_path_factory.mktemp("imported_lm")
    exp = published_exp(root / "exp")
    result = import_lm(exp, root / "out", tracking_uri=mlflow_uri)
    return exp, root / "out", result
