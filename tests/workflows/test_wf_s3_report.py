"""``report.html`` of a workflow whose run dir is in a bucket: built from node-local copies of the
generate / evaluate outputs (fetched from the bucket) and uploaded beside the run's state, with its media."""

from __future__ import annotations

import json
import re

import numpy as np

from conftest_s3 import s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures)

from uniaudio.audio import write_audio
from uniaudio.cli import main
from uniaudio.stores import uri as uris
from workflows.dag import parse_workflow
from workflows.report_page import write_workflow_report
from workflows.state import StepState

DAG = {"name": "r", "steps": {
    "generate": {"kind": "tests.workflows.wf_stepfns:source", "outputs": ["results"]},  # stands in for a generate step
    "evaluate": {"kind": "evaluate", "inputs": {"results": "generate.results"}},
}}


def test_report_of_an_s3_run_dir_is_built_from_the_bucket_and_uploaded(s3_bucket, tmp_path):
    rng = np.random.default_rng(0)
    gen = tmp_path / "gen"
    write_audio(gen / "out.wav", (0.1 * rng.standard_normal(16000)).astype(np.float32))
    write_audio(gen / "ref.wav", (0.1 * rng.standard_normal(16000)).astype(np.float32))
    (gen / "results.jsonl").write_text(json.dumps({"task": "text_to_sound", "id": "s1", "output": "out.wav",
                                                   "reference": "ref.wav", "caption": "rain"}) + "\n")
    ev = tmp_path / "eval"
    assert main(["evaluate", str(gen / "results.jsonl"), "--out", str(ev), "--metrics", "mcd", "--no-mlflow"]) == 0
    run = f"{s3_bucket}/run"
    uris.upload_dir(gen, f"{run}/steps/generate/k")
    uris.upload_dir(ev, f"{run}/steps/evaluate/k")
    wf = parse_workflow(DAG)
    states = {"generate": StepState("generate", "tests.workflows.wf_stepfns:source", status="done",
                                    outputs={"results": f"{run}/steps/generate/k"}),
              "evaluate": StepState("evaluate", "evaluate", status="done",
                                    outputs={"table": f"{run}/steps/evaluate/k"})}
    root = uris.staging_dir(run, "report")
    page = write_workflow_report(wf, states, {}, root, "t", None, None)
    assert page is not None and page.parent == root
    uris.upload_dir(page.parent, run)  # what the runner does for a remote run dir
    text = uris.read_text(f"{run}/report.html")
    srcs = re.findall(r'src="([^"]+)"', text)
    assert len(srcs) >= 2 and not [s for s in srcs if "://" in s or s.startswith("/")], srcs
    stored = {p for p, _ in uris.list_files(run)}
    assert all(s in stored for s in srcs), (srcs, sorted(stored))
