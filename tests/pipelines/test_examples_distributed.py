"""The distributed example build (Ray Data: select uses -> shuffle by target row -> build) against the
single-process reference: the same rows, byte for byte, and the same skip counts; plus its stages
run directly (no Ray) on edge cases: prompt windows, row versions that were not planned, missing
inputs."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from test_examples import no_mlflow, phones, synthetic_store, token_row

from uniaudio.stores import delta
from pipelines.examples import run_examples
from pipelines.examples.build import _token_datasets
from pipelines.examples.distributed import FP, build_block, select_uses, window_col
from pipelines.examples.example import outcome_table
from pipelines.examples.lookup import UsePlan
from pipelines.examples.plan import plan_dataset
from pipelines.examples.reference import build_reference
from pipelines.examples.summary import ExamplesSummary
from uniaudio.stores.schema import example_store_schema, token_store_schema
from uniaudio.tasks import TASKS
from uniaudio.vocab import load_vocab

SPEECH = ["tts", "vc", "asr", "sv"]


def broken_rows():
    """Rows whose examples fail at build time: a missing column, a prompt without codes, too long."""
    rows = [token_row("broken", "b0", SPEECH, 100, speaker="x", seed=3, phones=phones(3), text_ids=[1, 2]),  # no semantic
            token_row("broken", "b1", ["plain_tts"], 90, speaker="x", seed=4, phones=phones(2)),
            token_row("broken", "long", ["asr"], 900, seed=5, text_ids=list(b"a long one"))]
    for k in range(3):  # b1 has no codes: b0's prompt (tts, vc, sv positive) cut from it is missing
        rows[1][f"codes_{k}"] = None
    return rows


def store_with_failures(uri):
    rows = synthetic_store(uri)
    extra = broken_rows()
    delta.append(uri, pa.Table.from_pylist(extra, schema=token_store_schema(3)), ["dataset"])
    return {**rows, **{r["utt_id"]: r for r in extra}}


def plans_for(tokens, cfg):
    s = ExamplesSummary(tokens=tokens, out="", tokens_version=delta.table_version(tokens), run_id="ref")
    salt = f"{cfg.choice_hash()}:{load_vocab().content_hash}"
    version = delta.table_version(tokens)
    plans = [plan_dataset(d, tokens, version, tokens + "-none", cfg, set(cfg.tasks or TASKS), salt, s)
             for d in _token_datasets(tokens, version)]
    return plans, s


def test_distributed_build_is_byte_identical_to_the_reference(tmp_path, ray_session):
    tokens, out = str(tmp_path / "tokens"), str(tmp_path / "examples")
    store_with_failures(tokens)
    cfg = no_mlflow(valid_fraction=0.3, max_frames=800, chunk_rows=7)
    s = run_examples(tokens, out, cfg)

    plans, ref_summary = plans_for(tokens, cfg)
    outcomes = build_reference(tokens, delta.table_version(tokens), plans, cfg)
    for c, row, reason in outcomes:
        if row is None:
            ref_summary.skip(c.dataset, c.task, reason)
    ref = outcome_table(outcomes)
    ref = ref.filter(pc.is_null(ref.column("skip"))).drop_columns(["skip"]).cast(example_store_schema())
    got = delta.read_table(out).select(example_store_schema().names)
    order = lambda t: t.take(pc.sort_indices(t, [("example_id", "ascending")]))  # noqa: E731
    ref, got = order(ref), order(got)
    assert got.num_rows == ref.num_rows == s.total("built") > 40
    for name in example_store_schema().names:  # column by column, value for value
        assert got.column(name).to_pylist() == ref.column(name).to_pylist(), name
    assert dict(s.skipped) == dict(ref_summary.skipped) == {
        "tts/no_prompt": 1, "vc/missing_semantic": 1, "tts/missing_codes": 1, "plain_tts/missing_codes": 1,
        "asr/too_long": 1, "sv/no_other_speaker": 1}
    assert s.per_dataset["broken"]["skipped"] == 5 and s.per_dataset["broken"]["built"] == 1  # b0's asr


def _block(rows):
    t = pa.Table.from_pylist(rows, schema=token_store_schema(3))
    return t.select(t.schema.names)


def test_stages_carry_prompt_windows_and_only_planned_row_versions(tmp_path):
    """select_uses + build_block without Ray: the target row travels whole, its prompt as a window."""
    tokens = str(tmp_path / "tokens")
    rows = synthetic_store(tokens)
    cfg = no_mlflow(valid_fraction=0.3, tasks=["tts", "asr"])
    plans, _ = plans_for(tokens, cfg)
    lookup = UsePlan.build(plans)
    speech = [rows[u] for u in ("s0", "s1", "s2", "s3", "s4", "s5")]
    stale = dict(rows["s3"], fingerprint="an-older-version")  # not the version planned from: unused
    recs = select_uses(_block(speech + [stale]), [lookup], 3)
    own = recs.filter(pc.is_null(recs.column(FP)))
    assert sorted(own.column("utt_id").to_pylist()) == ["s0", "s1", "s2", "s3", "s4", "s5"]
    wins = recs.filter(pc.is_valid(recs.column(FP))).to_pylist()
    assert len(wins) == 6 and all(w["codes_0"] is None for w in wins)  # one tts prompt per target
    for w in wins:
        n = len(w[window_col(0)])
        assert 0 < n <= 150
        src = np.array(rows[w["utt_id"]]["codes_0"])
        assert any(np.array_equal(src[i : i + n], w[window_col(0)]) for i in range(len(src) - n + 1))

    ref = {c.example_id: r for c, r, _ in build_reference(tokens, 0, plans, cfg)}
    built = {r["example_id"]: r for r in build_block(recs, [lookup], cfg.model_dump_json(), 0).to_pylist()}
    assert set(built) == {k for k in ref if "/speech/s" in k}  # every tts + asr of s0..s5
    for k, row in built.items():
        assert row["skip"] is None and row["frames"] == list(ref[k]["frames"]) and row["utt_ids"] == ref[k]["utt_ids"]
    # a block holding a target row but not its prompt window fails loudly (never builds a wrong example)
    with pytest.raises(RuntimeError, match="no prompt window"):
        build_block(own, [lookup], cfg.model_dump_json(), 0)
