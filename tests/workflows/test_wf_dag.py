"""DAG files: parsing, validation errors that name the step and field, foreach expansion, ordering."""

from pathlib import Path

import pytest
import yaml

from workflows.dag import DagError, load_workflow, parse_workflow

ROOT = Path(__file__).resolve().parents[2]
SRC = "tests.workflows.wf_stepfns:source"
UP = "tests.workflows.wf_stepfns:upper"


def dag(**steps) -> dict:
    return {"name": "t", "steps": steps}


def src(text="x", **kw) -> dict:
    return {"kind": SRC, "outputs": ["text"], "config": {"text": text}, **kw}


def up(inputs, **kw) -> dict:
    return {"kind": UP, "outputs": ["text"], "inputs": {"text": inputs}, **kw}


@pytest.mark.parametrize("name", ["demo.yaml", "full.yaml", "add_dataset.yaml"])
def test_shipped_dags_validate(name, tmp_path):
    if name == "full.yaml":  # the paper's conditioners need local weights (tests/workflows/test_wf_full_plan.py)
        from tests.workflows.tiny_weights import tiny_hubert_dir, tiny_t5_dir

        weights = [f"vars.t5_dir={tiny_t5_dir(tmp_path / 't5')}", f"vars.hubert_dir={tiny_hubert_dir(tmp_path / 'hub')}"]
    else:
        weights = []
    wf = load_workflow(ROOT / "workflows" / name, overrides=weights)
    assert wf.steps, name
    kinds = {st.kind for st in wf.steps.values()}
    assert "tokenize" in kinds
    # every input names a step that comes earlier
    seen = set()
    for sid, st in wf.steps.items():
        assert all(d in seen for d in st.deps), sid
        seen.add(sid)


def test_demo_dag_covers_the_pipeline_and_every_dataset():
    wf = load_workflow(ROOT / "workflows" / "demo.yaml")
    kinds = [st.kind for st in wf.steps.values()]
    for k in ("demo_corpus", "codec_train", "tokenize", "examples", "train_lm", "eval_requests", "generate", "evaluate"):
        assert k in kinds
    toks = [sid for sid, st in wf.steps.items() if st.kind == "tokenize"]
    assert len(toks) == len(wf.spec.vars["datasets"]) == 11
    assert wf.steps["examples"].deps == toks  # the examples step waits for every dataset


def test_foreach_expansion_references_and_order():
    wf = parse_workflow({"name": "t", "vars": {"items": ["a", "b"]}, "steps": {
        "all": up("s[*].text"),  # written before its inputs: still ordered after them
        "s": src("hello ${item}", foreach="${vars.items}"),
        "one": up("s[b].text"),
    }})
    assert list(wf.steps) == ["s[a]", "s[b]", "all", "one"]
    assert wf.steps["s[a]"].config == {"text": "hello a"}
    assert [str(r) for r in wf.steps["all"].inputs["text"]] == ["s[a].text", "s[b].text"]
    assert str(wf.steps["one"].inputs["text"]) == "s[b].text"
    assert wf.downstream(["s[b]"]) == {"s[b]", "all", "one"}
    assert wf.upstream(["one"]) == {"one", "s[b]"}


def test_overrides_and_vars_keep_types():
    wf = parse_workflow({"name": "t", "vars": {"n": 3}, "steps": {"s": src("${vars.n}")}}, overrides=["vars.n=7"])
    assert wf.steps["s"].config["text"] == 7
    wf = parse_workflow({"name": "t", "vars": {"n": 3}, "steps": {"s": src("n=${vars.n}")}})
    assert wf.steps["s"].config["text"] == "n=3"


@pytest.mark.parametrize("data, expected", [
    (dag(a={"kind": "no_such_kind"}), "steps.a.kind: unknown kind 'no_such_kind'"),
    (dag(a=src(), b=up("c.text")), "steps.b.inputs.text: unknown step 'c'"),
    (dag(a=src(), b=up("a.txt")), "steps.b.inputs.text: step 'a'"),
    (dag(a=src(), b=up("a")), "steps.b.inputs.text: 'a' is not a reference"),
    (dag(a=up("b.text"), b=up("a.text")), "the steps form a cycle: a -> b -> a"),
    (dag(a=src(foreach=["x"]), b=up("a.text")), "steps.b.inputs.text: step 'a' is a foreach step"),
    (dag(a=src(foreach=["x"]), b=up("a[y].text")), "steps.b.inputs.text: step 'a' has no item 'y'"),
    (dag(a=src(foreach=[])), "steps.a.foreach: an empty list"),
    (dag(a=src(foreach=["x", "x"])), "steps.a.foreach: items repeat"),
    (dag(a=src("${vars.nope}")), "steps.a.config.text: unknown variable ${vars.nope}"),
    (dag(a={"kind": "codec_train", "inputs": {"data": "b.spec"}, "config": {"steps": "many"}},
         b={"kind": "demo_corpus"}), "steps.a.config: invalid CodecTrainStep config: steps:"),
    (dag(a={"kind": "codec_train"}), "steps.a.inputs: missing data"),
    (dag(a={"kind": "demo_corpus", "config": {"smal": True}}), "steps.a.config: invalid DemoCorpusStep config: smal: unknown field"),
    (dag(a={"kind": "tokenize", "inputs": {"spec": "b.spec", "codec": "b.spec", "extra": "b.spec"},
            "config": {"dataset": "x"}}, b={"kind": "demo_corpus"}), "steps.a.inputs.extra: kind tokenize takes no such input"),
    (dag(a={"kind": SRC}), "list its outputs in the step"),
    (dag(a={"kind": "tests.workflows.wf_stepfns:nothing_here", "outputs": ["x"]}), "has no attribute 'nothing_here'"),
    ({"name": "t", "steps": {"a": src()}, "stepz": 1}, "stepz: unknown field"),
    ({"name": "t"}, "'steps' must be a non-empty mapping"),
    (["not", "a", "mapping"], "a workflow must be a mapping"),
    (dag(**{"9bad": src()}), "steps.9bad: step ids start with a letter"),
])
def test_bad_dags_name_the_step_and_field(data, expected):
    with pytest.raises(DagError) as err:
        parse_workflow(data, "bad.yaml")
    assert expected in str(err.value)
    assert str(err.value).startswith("bad.yaml")


def test_bad_yaml_file(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("name: [unclosed\n")
    with pytest.raises(DagError, match="not valid YAML"):
        load_workflow(p)
    with pytest.raises(DagError, match="does not exist"):
        load_workflow(tmp_path / "missing.yaml")


def test_dag_round_trips_through_the_stored_copy(tmp_path):
    data = dag(a=src(foreach=["x", "y"]), b=up("a[*].text"))
    wf = parse_workflow(data)
    again = parse_workflow(yaml.safe_load(yaml.safe_dump(wf.raw)))
    assert list(again.steps) == list(wf.steps)
