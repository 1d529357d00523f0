"""``tokenize``: one dataset of a spec into the (shared) token store, incrementally.

Inputs ``spec`` (dataset spec), ``codec`` (checkpoint dir) and optional ``semantic`` (a k-means from a
``semantic_units`` step: enables the semantic tokenizer VC needs); config ``dataset`` (which entry),
``store`` (default ``${run_dir}/tokens``; one Delta table partitioned by dataset, shared by every
tokenize step of the workflow) and ``set`` (TokenizeConfig overrides).

One step per dataset (a ``foreach`` over dataset names), keyed on the codec's content hash and the
dataset's manifest fingerprint: adding a dataset adds one step, and the other datasets' steps are
skipped by key. Output ``table``: ``{uri, dataset, version, tokenizer_version, rows}`` where
``version`` is the Delta version holding this dataset's rows; its identity leaves the URI out, so
moving a run directory changes no key. Unlike other steps, an earlier result under another key is
never re-used: a later run with other inputs replaced this dataset's rows in the shared store.
"""

from __future__ import annotations

from workflows.kinds.common import KindConfig, dataset_fingerprint, spec_dataset
from workflows.step import StepContext, StepKind, StepResult, resolve_path


class TokenizeStep(KindConfig):
    dataset: str
    store: str = "${run_dir}/tokens"


def _fingerprint(cfg: dict, inputs: dict) -> dict:
    c = TokenizeStep.model_validate(cfg)
    return dataset_fingerprint(resolve_path(inputs["spec"]), c.dataset)


def run_tokenize_step(ctx: StepContext) -> StepResult:
    from pipelines.tokenize import TokenizeConfig, run_tokenize
    from uniaudio.config import load_config

    c = TokenizeStep.model_validate(ctx.config)
    from workflows.kinds.semantic import semantic_overrides

    cfg = load_config(TokenizeConfig, None, semantic_overrides(ctx.inputs.get("semantic"), "tokenizers.") + list(c.set))
    spec = spec_dataset(resolve_path(ctx.inputs["spec"]), c.dataset)
    store = resolve_path(c.store)
    s = run_tokenize(spec, store, resolve_path(ctx.inputs["codec"]), cfg, address=ctx.address, progress=True,
                     log=lambda m: print(m, flush=True))
    print(s.report(), flush=True)
    ctx.adopt_run(s.mlflow_run_id)
    counts = s.per_dataset.get(c.dataset, {})
    table = {"uri": store, "dataset": c.dataset, "version": s.table_version,
             "tokenizer_version": s.tokenizer_version, "rows": int(s.rows_out + s.rows_done)}
    return StepResult(
        outputs={"table": table},
        identity={"table": {k: v for k, v in table.items() if k != "uri"}},
        runs={"tokenize": s.mlflow_run_id} if s.mlflow_run_id else {},
        links={f"tokens.{c.dataset}.version": s.table_version, f"tokens.{c.dataset}.tokenizer_version": s.tokenizer_version,
               "tokens.uri": store},
        metrics={f"tokenize/{k}": float(v) for k, v in s.metrics().items() if "/" not in k}
        | {f"tokenize/{k}": float(v) for k, v in counts.items() if isinstance(v, (int, float))},
        summary=s.line(),
    )


TOKENIZE = StepKind("tokenize", run_tokenize_step, outputs=("table",),
                    input_names=("spec", "codec", "semantic"),
                    required_inputs=("spec", "codec"), config_model=TokenizeStep, fingerprint=_fingerprint,
                    uses_ray=True, reuse_history=False,  # the token store is shared and changes under it
                    description="tokenize one dataset into the token store")
