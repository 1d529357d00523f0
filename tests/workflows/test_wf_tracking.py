"""MLflow for workflows (one parent run per invocation, nested step runs, links) and the embedded Ray."""

import pytest
from mlflow.tracking import MlflowClient

from tests.workflows.wf_stepfns import calls
from workflows.dag import parse_workflow
from workflows.runner import run_workflow

DAG = {"name": "trk", "steps": {
    "sq": {"kind": "tests.workflows.wf_stepfns:source", "outputs": ["text"], "config": {"text": "49"}},
    "evalx": {"kind": "tests.workflows.wf_stepfns:own_run", "outputs": ["table"], "inputs": {"x": "sq.text"}},
}}


def test_parent_run_nested_step_runs_and_skips(tmp_path):
    wf = parse_workflow(DAG)
    r1 = run_workflow(wf, tmp_path, log=lambda m: None)
    assert r1.ok and r1.ran == ["sq", "evalx"]
    c = MlflowClient(r1.tracking_uri)
    parent = c.get_run(r1.mlflow_run_id)
    assert parent.data.tags["uniaudio.workflow"] == "trk" and parent.info.status == "FINISHED"
    exp = parent.info.experiment_id
    # every experiment the project creates opens on its runs (MLflow 3: not the GenAI traces page)
    for name in ("Default", "codec", "uniaudio-lm", "evaluate", c.get_experiment(exp).name, "component"):
        assert c.get_experiment_by_name(name).tags["mlflow.experimentKind"] == "custom_model_development", name
    children = c.search_runs([exp], f"tags.mlflow.parentRunId = '{r1.mlflow_run_id}'")
    by_step = {ch.data.tags["uniaudio.workflow_step"]: ch for ch in children}
    assert set(by_step) == {"sq", "evalx"}
    assert by_step["sq"].data.tags["uniaudio.step_key"] and "step/seconds" in by_step["sq"].data.metrics
    assert parent.data.params["step.sq.run_id"] == by_step["sq"].info.run_id
    assert parent.data.params["out.sq.text"].endswith("source.txt") and parent.data.params["evaluation.table"] == "x"
    # the component's own run is nested under its step's run
    comp = c.get_run(parent.data.tags["run.evalx.component"])
    assert comp.data.tags["mlflow.parentRunId"] == by_step["evalx"].info.run_id
    arts = [a.path for a in c.list_artifacts(r1.mlflow_run_id, "evaluation")]
    assert arts == ["evaluation/table.csv"]

    r2 = run_workflow(wf, tmp_path, log=lambda m: None)
    assert r2.ran == [] and r2.skipped == ["sq", "evalx"] and calls(tmp_path) == ["sq", "evalx"]
    p2 = c.get_run(r2.mlflow_run_id)
    assert p2.data.tags["step.sq.status"] == "skipped"
    assert p2.data.params["step.sq.run_id"] == by_step["sq"].info.run_id  # links the run that made it
    assert p2.data.params["evaluation.table"] == "x" and p2.data.tags["run.evalx.component"] == comp.info.run_id
    assert not c.search_runs([exp], f"tags.mlflow.parentRunId = '{r2.mlflow_run_id}'")


@pytest.mark.slow
def test_steps_run_on_the_embedded_ray_instance(tmp_path):
    import ray

    was_up = ray.is_initialized()  # another module's session instance (make test-all): the runner joins it
    wf = parse_workflow({"name": "r", "ray": {"num_cpus": 1}, "steps": {
        "sq": {"kind": "tests.workflows.wf_stepfns:RAY_SQUARE", "config": {"n": 7}}}})
    r = run_workflow(wf, tmp_path, mlflow=False, log=lambda m: None)
    assert r.ok and r.outputs["sq"]["value"] == 49, r.failed
    # the runner stops an instance it started and leaves one it found alone
    assert ray.is_initialized() == was_up
