"""The workflow runner: one driver process executes a DAG's steps in order, skipping finished ones.

For each step, in topological order:

1. if a predecessor failed (or is blocked), the step is *blocked* and left as it was;
2. its key is computed (:mod:`workflows.keys`) from its config, the identities its predecessors
   recorded, and the kind's fingerprint (e.g. the dataset's manifest fingerprint);
3. if the step finished before with that key (now or earlier: a per-step history is kept) and its
   outputs are still there, it is *skipped* and says so;
4. otherwise it runs in-process with the Ray instance the runner holds (embedded, or the cluster of
   the Ray Job it runs in), its output teed to ``RUN/logs/<step>.log``, inside its own nested MLflow
   run; its state goes ``running`` -> ``done`` (outputs, identities, run ids, timings) or ``failed``
   (the error), written atomically. A failed step does not stop independent steps.

Re-running the same DAG on the same run dir therefore redoes only failed, changed or new steps:
retrying a failed step never redoes its predecessors; adding a dataset to a ``foreach`` runs its
tokenization and what depends on it, nothing else.
"""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import yaml

from uniaudio.errors import UserFacingError
from uniaudio.stores import uri as uris
from workflows.dag import Ref, Workflow
from workflows.keys import digest, output_identity, step_key
from workflows.kinds import get_kind
from workflows.logs import capture
from workflows.run_report import RunReport, console_step, select, short
from workflows.state import RunLock, RunStore, StepState
from workflows.step import StepContext, StepResult
from workflows.step_io import StepPlace, map_strings

if TYPE_CHECKING:
    from workflows.console import Console

HISTORY_KEEP = 8


class Runner:
    """Executes one invocation of a workflow on a run directory (see the module doc)."""

    def __init__(self, wf: Workflow, run_dir: str | Path, address: str | None = None,
                 targets: Sequence[str] | None = None, force: Sequence[str] | None = None,
                 work_dir: str | Path | None = None, log: Callable[[str], None] | None = None,
                 mlflow: bool = True, console: "Console | None" = None):
        self.wf = wf
        self.store = RunStore(run_dir)
        self.lock: RunLock | None = None  # held while run() runs steps
        self.work_root = Path(work_dir).resolve() if work_dir else None
        # remote run dir without --work-dir: outputs in the bucket, scratch on this node (workflows/step_io.py)
        self.place = StepPlace(self.store, self.work_root)
        self.root = self.place.root
        self.address = address
        targets_ = select(wf, targets)
        self.selected = wf.upstream(sorted(targets_)) if targets_ else None
        self.force = select(wf, force) or set()
        # console: the quiet console (workflows/console.py); without one, output is teed as before
        self.console = console
        self.log = log or (console.line if console is not None else (lambda m: print(m, flush=True)))
        self._router = None
        self.states: dict[str, StepState] = {}
        self.ray_started = False
        self.mlflow = mlflow
        self.tracking = None

    # --- the invocation ------------------------------------------------------------------------------
    def run(self) -> RunReport:
        if self.console is None or self.console.verbose:
            return self._run()
        runner_log = self.place.log_path("_runner")
        with self.console.quiet(runner_log) as router:
            self._router = router
            try:
                return self._run()
            finally:
                self._router = None

    def _run(self) -> RunReport:
        t0 = time.time()
        os.environ.update(self.wf.spec.env)
        if self.wf.spec.env.get("UNIAUDIO_TASKS_FILE"):  # a user's tasks file for every step (docs/NEW_TASK.md)
            from uniaudio.tasks import use_tasks_file

            use_tasks_file(self.wf.spec.env["UNIAUDIO_TASKS_FILE"])
        dag_yaml = yaml.safe_dump(self.wf.raw, sort_keys=False)
        with RunLock(self.store) as self.lock:
            n = self.store.start_invocation(self.wf.name, digest(self.wf.raw), dag_yaml,
                                            {"ray_job_id": os.environ.get("UNIAUDIO_RAY_JOB_ID") or None})
            report = RunReport(self.store.uri, n)
            from workflows.tracking import WorkflowTracking

            self.tracking = WorkflowTracking(self.place.node_root, self.wf.spec.experiment or f"workflow-{self.wf.name}",
                                             enabled=self.mlflow)
            self.tracking.export_env()
            report.tracking_uri = self.tracking.uri
            report.mlflow_run_id = self.tracking.start(
                f"{self.wf.name}#{n}", {"uniaudio.workflow": self.wf.name, "uniaudio.run_dir": self.store.uri,
                                        "uniaudio.invocation": str(n)},
                {"workflow": self.wf.name, "dag_hash": digest(self.wf.raw), "source": self.wf.source,
                 "steps": len(self.wf.steps)})
            self.store.update_invocation(n, mlflow_run_id=report.mlflow_run_id, tracking_uri=self.tracking.uri)
            if self.store.local is not None:
                self.tracking.artifact(self.store.local / "dag.yaml", "workflow")
            status, completed = "FAILED", False
            try:
                self._loop(report)
                self._report_page(report)
                completed = True
                status = "FINISHED" if report.ok else "FAILED"
            finally:
                report.seconds = time.time() - t0
                self.tracking.metrics({"workflow/ran": len(report.ran), "workflow/skipped": len(report.skipped),
                                       "workflow/failed": len(report.failed), "workflow/seconds": report.seconds})
                self.tracking.link(tags={"workflow.status": "ok" if report.ok else "failed",
                                         "workflow.failed_steps": ",".join(report.failed) or "-"})
                self.store.update_invocation(n, finished=time.time(),
                                             status="ok" if report.ok and completed else "failed",
                                             ran=report.ran, skipped=report.skipped, failed=report.failed,
                                             blocked=report.blocked, seconds=report.seconds)
                if self.store.local is not None:
                    self.tracking.artifact(self.store.local / "workflow.json", "workflow")
                self.tracking.end(status)
                self._stop_ray()
                self.place.save_log("_runner")
        return report

    def _report_page(self, report: RunReport) -> None:
        """``RUN/report.html`` (workflows/report_page.py), logged on the parent run; never fails the run."""
        remote = self.store.local is None
        try:
            from workflows.report import mlflow_ui_command
            from workflows.report_page import write_workflow_report

            exp_id = None
            if self.tracking.uri:
                from mlflow.tracking import MlflowClient

                exp = MlflowClient(self.tracking.uri).get_experiment_by_name(self.tracking.experiment)
                exp_id = exp.experiment_id if exp else None
            root = uris.staging_dir(self.store.uri, "report") if remote else self.store.local
            page = write_workflow_report(self.wf, self.states, report.seconds_by_step, root,
                                         f"workflow {self.wf.name} #{report.invocation}: what each task did",
                                         exp_id, mlflow_ui_command(self.tracking.uri))
            if page is not None and remote:  # page + its media folder, beside the run's state in the bucket
                uris.upload_dir(page.parent, self.store.uri)
        except Exception as err:  # noqa: BLE001 - the page is a view of the results, not a result
            print(f"WARNING [workflow] report.html not written: {type(err).__name__}: {err}", flush=True)
            return
        if page is not None:
            report.report_html = uris.join(self.store.uri, page.name) if remote else str(page)
            self.tracking.artifact(page, "report")
            self.tracking.artifact(page.parent / f"{page.stem}_files", "report/report_files")

    def _stop_ray(self) -> None:
        if self.ray_started:
            import ray

            ray.shutdown()
            self.ray_started = False

    def _loop(self, report: RunReport) -> None:
        order = [s for s in self.wf.steps if self.selected is None or s in self.selected]
        total = len(order)
        for i, sid in enumerate(order, start=1):
            if self.lock is not None and self.lock.lost:  # two runners must never run steps of one run dir
                raise UserFacingError(f"{self.store.uri}: another runner took this run's lock over (this one "
                                      f"missed its heartbeats); stopped before step {sid}")
            st = self.wf.steps[sid]
            tag = f"[{i}/{total}] {sid}"
            bad = [d for d in st.deps if d in report.failed or d in report.blocked]
            if bad:
                report.blocked.append(sid)
                self.log(f"{tag}: blocked (needs {', '.join(bad)}, which did not finish)")
                continue
            try:
                kind = get_kind(st.kind, self.wf.spec.steps[st.base].outputs)
                values, ids = self._inputs(st.inputs)
                cfg = map_strings(st.config, lambda s: s.replace("${run_dir}", self.root))
                fp = kind.fingerprint(cfg, values) if kind.fingerprint else None
                key = step_key(st.kind, kind.version, st.config, ids, fp)
            except Exception as err:  # noqa: BLE001 - a step that cannot even be keyed fails alone
                report.failed[sid] = f"{type(err).__name__}: {err}"
                self.log(f"{tag}: FAILED before running: {report.failed[sid]}")
                self._mark_failed(sid, st.kind, report.failed[sid])
                continue
            state = self.store.load_step(sid, st.kind)
            prior = None if sid in self.force else state.finished_with(key)
            if prior is not None and state.key != key and not kind.reuse_history:
                prior = None
            if prior is not None:
                missing = self.place.missing(prior["outputs"])
                if missing:
                    self.log(f"{tag}: finished before with key {key[:12]}, but {missing[0]} is gone: running again")
                    prior = None
            if prior is not None:
                self._skip(state, key, prior, report)
                self.log(f"{tag}: skipped (done, key {key[:12]}{', finished ' + time.ctime(prior['finished']) if prior.get('finished') else ''})")
                continue
            self.log(f"{tag}: running ({st.kind}, key {key[:12]})")
            self._execute(st, kind, key, cfg, values, ids, state, report, tag)

    def _inputs(self, inputs: dict[str, Ref | list[Ref]]) -> tuple[dict[str, Any], dict[str, Any]]:
        values: dict[str, Any] = {}
        ids: dict[str, Any] = {}
        for name, ref in inputs.items():
            refs = ref if isinstance(ref, list) else [ref]
            vs, iz = [], []
            for r in refs:
                s = self.states[r.step]
                if r.output not in s.outputs:
                    raise UserFacingError(f"step {r.step} finished without output {r.output!r}")
                vs.append(s.outputs[r.output])
                iz.append(output_identity(s.key, r.output, s.identity))
            values[name], ids[name] = (vs, iz) if isinstance(ref, list) else (vs[0], iz[0])
        return values, ids

    def _skip(self, state: StepState, key: str, prior: dict[str, Any], report: RunReport) -> None:
        if state.key != key or state.status != "done":  # restore an earlier result from the history
            state.key, state.status, state.error = key, "done", None
            for k in ("outputs", "identity", "runs", "links", "step_run_id", "finished", "summary"):
                setattr(state, k, prior.get(k) if k not in ("outputs", "identity", "runs", "links") else dict(prior.get(k) or {}))
            self.store.save_step(state)
        self.states[state.id] = state
        self._publish(state.id, key)
        report.skipped.append(state.id)
        report.outputs[state.id] = dict(state.outputs)
        self.tracking.link(params={f"step.{state.id}.key": key, f"step.{state.id}.run_id": state.step_run_id or "-",
                                   **{f"out.{state.id}.{k}": short(v) for k, v in state.outputs.items()},
                                   **{k: short(v) for k, v in state.links.items()}},
                           tags={f"step.{state.id}.status": "skipped",
                                 **{f"run.{state.id}.{k}": v for k, v in state.runs.items()}})

    def _publish(self, step_id: str, key: str) -> None:
        """``RUN/outputs/<step>`` -> the step's current work dir: stable paths for people (keys are not)."""
        from workflows.dag import step_file_name

        if self.place.remote:
            return  # no links in a bucket: RUN/steps/<step>/<key> is named by the step's state
        work = Path(self.root) / "steps" / step_file_name(step_id) / key
        if not work.is_dir():
            return
        link = Path(self.root) / "outputs" / step_file_name(step_id)
        link.parent.mkdir(parents=True, exist_ok=True)
        tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        os.symlink(os.path.relpath(work, link.parent), tmp)
        os.replace(tmp, link)  # atomic: the link always points at a complete step

    def _mark_failed(self, sid: str, kind: str, error: str) -> None:
        state = self.store.load_step(sid, kind)
        state.status, state.error, state.finished = "failed", error, time.time()
        self.store.save_step(state)

    def _execute(self, st, kind, key, cfg, values, ids, state: StepState, report: RunReport, tag: str) -> None:
        if kind.uses_ray and not self.ray_started:
            try:
                from uniaudio.ray_init import ensure_ray

                # embedded instance: workers inherit this process's environment (DS_ACCELERATOR, MLflow)
                spec = self.wf.spec.ray
                self.ray_started = ensure_ray(self.address, spec.num_cpus or os.cpu_count(), spec.object_store_mb,
                                              configure_logging=False, log_to_driver=True) or self.ray_started
            except Exception as err:  # noqa: BLE001 - no Ray: this step fails, steps without Ray go on
                report.failed[st.id] = f"cannot start or join Ray: {type(err).__name__}: {err}"
                self._mark_failed(st.id, st.kind, report.failed[st.id])
                self.log(f"{tag}: FAILED: {report.failed[st.id]}")
                return
        work = self.place.work_dir(st.id, key)
        out = self.place.out_uri(st.id, key) if self.place.remote else str(work)
        log_path = self.place.log_path(st.id)
        state.key, state.status, state.error, state.summary = key, "running", None, ""
        state.started, state.finished, state.seconds = time.time(), None, None
        state.invocation = report.invocation
        self.store.save_step(state)
        t = self.tracking.start_step(st.id, st.kind, key, cfg, ids)
        ctx = StepContext(st.id, st.kind, key, cfg, values, work, self.root, self.tracking.uri, t.run_id,
                          self.tracking.parent.run_id, self.address, st.item, out)
        result: StepResult | None = None
        error = ""
        for attempt in range(st.retries + 1):
            state.attempts += 1
            self.store.save_step(state)
            with self._step_output(log_path, f"{st.id} key={key} attempt={state.attempts}", tag):
                try:
                    result = kind.run(ctx)
                    if not isinstance(result, StepResult):
                        result = StepResult(outputs=dict(result or {}))
                    missing = [o for o in kind.outputs if o not in result.outputs]
                    if missing:
                        raise UserFacingError(f"kind {st.kind} returned no {', '.join(missing)}")
                    self.place.publish(result, work, out)  # remote: scratch -> the bucket, outputs -> URIs
                    break
                except KeyboardInterrupt:
                    self._finish_failed(state, t, "interrupted", report)
                    raise
                except Exception as err:  # noqa: BLE001 - recorded, reported, and other steps go on
                    error = f"{type(err).__name__}: {err}"
                    traceback.print_exc()
                    result = None
                    if attempt < st.retries:
                        print(f"[{st.id}] attempt {attempt + 1} failed ({error}); retrying", flush=True)
        self.place.save_log(st.id)
        if result is None:
            self._finish_failed(state, t, error, report)
            self.log(f"{tag}: FAILED after {state.seconds:.1f}s: {error.splitlines()[0] if error else ''} "
                     f"(log: {log_path})")
            return
        state.status, state.finished = "done", time.time()
        state.seconds = state.finished - (state.started or state.finished)
        state.outputs, state.identity, state.runs = result.outputs, result.identity, result.runs
        state.step_run_id, state.summary, state.links = t.run_id, result.summary, result.links
        state.history[key] = {"outputs": result.outputs, "identity": result.identity, "runs": result.runs,
                              "links": result.links, "step_run_id": t.run_id, "finished": state.finished,
                              "summary": result.summary}
        while len(state.history) > HISTORY_KEEP:
            state.history.pop(next(iter(state.history)))
        self.store.save_step(state)
        self.states[st.id] = state
        self._publish(st.id, key)
        report.ran.append(st.id)
        report.seconds_by_step[st.id] = state.seconds
        report.outputs[st.id] = dict(result.outputs)
        t.log_metrics({**result.metrics, "step/seconds": state.seconds})
        t.set_tags({f"component_run.{k}": v for k, v in result.runs.items()})
        t.end_run("FINISHED")
        self.tracking.link(
            params={f"step.{st.id}.key": key, f"step.{st.id}.run_id": t.run_id or "-",
                    **{f"out.{st.id}.{k}": short(v) for k, v in result.outputs.items()},
                    **{f"{k}": short(v) for k, v in result.links.items()}},
            tags={f"step.{st.id}.status": "ran", **{f"run.{st.id}.{k}": v for k, v in result.runs.items()}})
        for path, apath in result.artifacts:
            self.tracking.artifact(path, apath)
        self.place.clean(work)
        summary = result.summary if len(result.summary) <= 200 else result.summary[:199] + "…"  # full: status
        self.log(f"{tag}: done in {state.seconds:.1f}s{': ' + summary if summary else ''}")

    def _step_output(self, path: Path | None, header: str, tag: str):
        if self.console is None or path is None:
            return capture(path, header)
        return console_step(self.console, self._router, path, header, tag)

    def _finish_failed(self, state: StepState, tracker, error: str, report: RunReport) -> None:
        state.status, state.error, state.finished = "failed", error, time.time()
        state.seconds = state.finished - (state.started or state.finished)
        self.store.save_step(state)
        report.failed[state.id] = error
        report.seconds_by_step[state.id] = state.seconds
        tracker.set_tags({"error": error[:5000]})
        tracker.end_run("FAILED")


def run_workflow(wf: Workflow, run_dir: str | Path, **kw: Any) -> RunReport:
    """Run (or resume) ``wf`` on ``run_dir``; see :class:`Runner` for the keyword arguments."""
    return Runner(wf, run_dir, **kw).run()
