"""Every numeric config field has its physical bounds, and a bad value fails before Ray or any folder."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import types
import typing

import annotated_types as at
import pytest

from uniaudio.config import ConfigBase

PACKAGES = ("uniaudio", "codec", "pipelines", "workflows")


def _all_configs() -> list[type]:
    for pkg in PACKAGES:
        for m in pkgutil.walk_packages(importlib.import_module(pkg).__path__, pkg + "."):
            if not m.name.endswith("__main__"):
                importlib.import_module(m.name)
    seen, todo = set(), list(ConfigBase.__subclasses__())
    while todo:
        c = todo.pop()
        if c not in seen:
            seen.add(c)
            todo += c.__subclasses__()
    def ours(c) -> bool:  # defined in the project (not in a test or a doctest namespace)
        mod = sys.modules.get(c.__module__)
        return c.__module__.split(".")[0] in PACKAGES and getattr(mod, c.__qualname__.split(".")[0], None) is c

    return sorted(filter(ours, seen), key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _scalar_number(ann) -> bool:
    """int / float / Optional of them (lists and ranges are checked by their models' validators)."""
    if ann in (int, float):
        return True
    if typing.get_origin(ann) not in (typing.Union, types.UnionType):
        return False
    args = [a for a in typing.get_args(ann) if a is not type(None)]
    return bool(args) and all(a in (int, float) for a in args)


def test_every_numeric_config_field_is_bounded():
    unbounded = []
    for c in _all_configs():
        for name, f in c.model_fields.items():
            if _scalar_number(f.annotation) and not any(isinstance(m, (at.Gt, at.Ge, at.Lt, at.Le)) for m in f.metadata):
                unbounded.append(f"{c.__module__}.{c.__qualname__}.{name}")
    assert not unbounded, f"numeric config fields without bounds: {unbounded}"


@pytest.mark.parametrize("override,field", [
    ("optim.lr=-1", "optim.lr"), ("optim.eps=0", "optim.eps"), ("optim.warmup_steps=-5", "optim.warmup_steps"),
    ("optim.betas=[0.9,1.5]", "optim.betas"), ("model.dropout=1.5", "model.dropout"), ("steps=0", "steps"),
    ("loader.max_frames_per_batch=0", "loader.max_frames_per_batch"), ("optim.min_lr_ratio=2", "optim.min_lr_ratio"),
])
def test_train_config_rejects_impossible_values(override, field):
    from uniaudio.config import ConfigError
    from uniaudio.train.config import train_config

    with pytest.raises(ConfigError, match=field.split(".")[-1]) as e:
        train_config("tiny", overrides=[override])
    assert "\n" not in str(e.value).strip()


def test_cli_bad_lr_fails_in_one_line_before_ray_and_before_out(tmp_path):
    out = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "uniaudio", "train", "--examples", str(tmp_path / "none"), "--out", str(out),
                        "--set", "optim.lr=-1"], capture_output=True, text=True, timeout=120,
                       env={**__import__("os").environ, "MLFLOW_TRACKING_URI": "", "RAY_ADDRESS": ""})
    assert p.returncode != 0 and "Traceback" not in p.stderr, p.stderr
    assert "optim.lr" in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "Ray" not in p.stdout + p.stderr and not out.exists()
