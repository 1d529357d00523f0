"""The registry of step kinds: built-in pipeline stages, plus ``module:function`` kinds from anywhere.

Built-in kinds (each module keeps torch/ray/mlflow imports inside its functions, so loading a DAG stays
fast and GPU-free):

==================  ==============================  =====================================================
kind                outputs                         wraps
==================  ==============================  =====================================================
demo_corpus         spec                            ``uniaudio demo-corpus`` (pipelines.democorpus)
dataset_spec        spec                            an existing dataset spec file (its datasets' content)
codec_train         codec                           ``uniaudio codec train`` (codec.ray_train)
codec_checkpoint    codec                           an existing codec directory
semantic_units      kmeans                          fit the semantic-unit k-means (uniaudio.tokenizers)
tokenize            table                           ``uniaudio tokenize`` for one dataset (pipelines.tokenize)
examples            examples                        ``uniaudio examples`` (pipelines.examples)
train_lm            model                           ``uniaudio train`` (uniaudio.train.driver)
model_checkpoint    model                           an existing exported model directory
eval_requests       requests                        generation requests per task from a dataset spec
generate            results, samples                ``uniaudio generate --batch`` (uniaudio.generate)
evaluate            table                           ``uniaudio evaluate`` (uniaudio.evaluate)
==================  ==============================  =====================================================

A DAG may also name ``package.module:attribute`` as its kind: a :class:`~workflows.step.StepKind`, or a
plain function ``fn(ctx) -> StepResult | dict`` whose outputs the step lists under ``outputs:``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any, Sequence

from uniaudio.errors import UserFacingError
from workflows.step import StepKind, StepResult

BUILTIN = {
    "demo_corpus": "workflows.kinds.corpus:DEMO_CORPUS",
    "dataset_spec": "workflows.kinds.corpus:DATASET_SPEC",
    "codec_train": "workflows.kinds.codec:CODEC_TRAIN",
    "codec_checkpoint": "workflows.kinds.codec:CODEC_CHECKPOINT",
    "semantic_units": "workflows.kinds.semantic:SEMANTIC_UNITS",
    "tokenize": "workflows.kinds.tokenize:TOKENIZE",
    "examples": "workflows.kinds.examples:EXAMPLES",
    "train_lm": "workflows.kinds.train:TRAIN_LM",
    "model_checkpoint": "workflows.kinds.train:MODEL_CHECKPOINT",
    "eval_requests": "workflows.kinds.requests:EVAL_REQUESTS",
    "generate": "workflows.kinds.generate:GENERATE",
    "evaluate": "workflows.kinds.evaluate:EVALUATE",
}

_CACHE: dict[tuple[str, tuple[str, ...] | None], StepKind] = {}


def _import(ref: str) -> Any:
    mod, _, attr = ref.partition(":")
    # Modules of the project (what a Ray Job's working_dir carries) import whatever the current dir is.
    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.append(root)
    try:
        module = importlib.import_module(mod)
    except ImportError as err:
        raise UserFacingError(f"cannot import {mod!r} for kind {ref!r} ({err})") from None
    if not hasattr(module, attr):
        raise UserFacingError(f"module {mod!r} has no attribute {attr!r}")
    return getattr(module, attr)


def _wrap_function(ref: str, fn: Any, outputs: Sequence[str] | None) -> StepKind:
    if not outputs:
        raise UserFacingError(f"{ref} is a plain function: list its outputs in the step (outputs: [name, ...])")

    def run(ctx):
        res = fn(ctx)
        return res if isinstance(res, StepResult) else StepResult(outputs=dict(res or {}))

    return StepKind(name=ref, run=run, outputs=tuple(outputs), description=(fn.__doc__ or "").strip())


def get_kind(name: str, outputs: Sequence[str] | None = None) -> StepKind:
    """The kind called ``name`` (built-in, or ``module:attribute``); a clear error when there is none."""
    key = (name, tuple(outputs) if outputs else None)
    if key in _CACHE:
        return _CACHE[key]
    if name in BUILTIN:
        if outputs:
            raise UserFacingError(f"built-in kind {name!r} declares its own outputs; remove 'outputs'")
        kind = _import(BUILTIN[name])
    elif ":" in name:
        obj = _import(name)
        if isinstance(obj, StepKind):
            kind = obj
        elif callable(obj):
            kind = _wrap_function(name, obj, outputs)
        else:
            raise UserFacingError(f"{name} is neither a StepKind nor a function")
    else:
        raise UserFacingError(f"unknown kind {name!r}; built-in kinds: {', '.join(BUILTIN)} "
                              f"(or package.module:function)")
    _CACHE[key] = kind
    return kind
