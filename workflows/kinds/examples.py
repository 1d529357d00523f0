"""``examples``: the token store -> the example store (task templates pair rows into training examples).

Input ``tokens``: the ``table`` outputs of the tokenize steps (a list, all of one token store); config
``tasks`` (default: every task the rows list), ``store`` (default ``<work dir>/examples``) and ``set``
(ExamplesConfig overrides, e.g. ``valid_fraction=0.1``). The builder (``pipelines.examples``, the
``uniaudio examples`` command) is restricted to the datasets of its inputs, so the examples are
exactly those of the tokenize steps the step depends on. The build runs on the workflow's Ray (the
step's ``address``, else the embedded instance). Output ``examples``: ``{uri, version}``
(the Delta version written); its identity is that version plus the (dataset, token version) inputs.
"""

from __future__ import annotations

import json

from workflows.kinds.common import KindConfig
from workflows.step import StepContext, StepKind, StepResult, resolve_path


class ExamplesStep(KindConfig):
    tasks: list[str] | None = None
    store: str | None = None


def run_examples_step(ctx: StepContext) -> StepResult:
    from pipelines.examples import ExamplesConfig, run_examples
    from uniaudio.config import load_config
    from uniaudio.errors import UserFacingError

    c = ExamplesStep.model_validate(ctx.config)
    tables = ctx.inputs["tokens"] if isinstance(ctx.inputs["tokens"], list) else [ctx.inputs["tokens"]]
    uris = sorted({t["uri"] for t in tables})
    if len(uris) != 1:
        raise UserFacingError(f"the examples step reads one token store; its inputs name {len(uris)}: {', '.join(uris)}")
    datasets = [t["dataset"] for t in tables]
    sets = [f"datasets={json.dumps(datasets)}"] + ([f"tasks={json.dumps(c.tasks)}"] if c.tasks else []) + list(c.set)
    cfg = load_config(ExamplesConfig, None, sets)
    out = resolve_path(c.store) if c.store else ctx.out_path("examples")  # a URI on a remote run dir
    s = run_examples(uris[0], out, cfg, address=ctx.address)
    print(s.report(), flush=True)
    ctx.adopt_run(s.mlflow_run_id)
    tokens = sorted((t["dataset"], t.get("version")) for t in tables)
    return StepResult(
        outputs={"examples": {"uri": out, "version": s.table_version, "tokens_version": s.tokens_version}},
        identity={"examples": {"version": s.table_version, "tokens": tokens}},
        runs={"examples": s.mlflow_run_id} if s.mlflow_run_id else {},
        links={"examples.uri": out, "examples.version": s.table_version, "examples.tokens_version": s.tokens_version},
        summary=s.line(),
    )


EXAMPLES = StepKind("examples", run_examples_step, outputs=("examples",), input_names=("tokens",),
                    required_inputs=("tokens",), config_model=ExamplesStep, reuse_history=False,
                    uses_ray=True,  # the build is a Ray Data job: on the workflow's cluster / embedded instance
                    description="build the example store from the token store")
