"""``uniaudio workflow run|submit|status|logs``: run pipeline DAGs locally or as Ray Jobs on a cluster.

    uniaudio workflow run workflows/demo.yaml --run-dir demo_out          # embedded local Ray + MLflow sqlite
    uniaudio workflow run workflows/demo.yaml --set vars.lm_steps=50 --only lm
    uniaudio workflow submit workflows/full.yaml --address http://HEAD:8265 --run-dir /shared/runs/full --wait
    uniaudio workflow status demo_out
    uniaudio workflow logs demo_out tokenize --tail 50

Steps are keyed by the content of their inputs and config: running a DAG again on the same run dir
skips finished steps (and says so), re-runs failed or changed ones, and runs new ones. See
docs/WORKFLOWS.md.
"""

from __future__ import annotations

import argparse

NAME = "workflow"
HELP = "run workflow DAGs (locally or as Ray Jobs), and show their status and logs"
ORDER = 90


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("dag", metavar="DAG.yaml", help="workflow file (e.g. workflows/demo.yaml)")
    p.add_argument("--run-dir", metavar="DIR", help="run directory: state, logs, outputs, MLflow store "
                                                     "(default runs/<workflow name>)")
    p.add_argument("--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
                   help="override a DAG field, e.g. --set vars.lm_steps=50 or steps.codec.config.workers=2")
    p.add_argument("--only", action="append", default=[], metavar="STEP",
                   help="run only this step and what it needs (repeatable; a foreach step's name selects all items)")
    p.add_argument("--force", action="append", default=[], metavar="STEP", help="re-run this step even if it is done")
    p.add_argument("--work-dir", metavar="DIR", help="optional local (or shared) folder for step outputs; default: the run dir itself, a bucket prefix when --run-dir is an object-store URI (scratch then goes under the node cache)")
    p.add_argument("--no-mlflow", action="store_true", help="no workflow MLflow runs (components still track)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = __doc__
    sub = parser.add_subparsers(dest="wf_command", metavar="ACTION")
    sub.required = True
    r = sub.add_parser("run", help="run a DAG in this process (embedded local Ray unless --address / $RAY_ADDRESS)")
    _common(r)
    r.add_argument("--address", help="join this Ray cluster (GCS address) instead of starting a local instance")
    r.add_argument("--dry-run", action="store_true", help="validate the DAG and print its steps; run nothing")
    r.add_argument("-v", "--verbose", action="store_true",
                   help="show every step's full output (Ray, DeepSpeed, MLflow logs) on the console too")
    s = sub.add_parser("submit", help="submit a DAG as a Ray Job (Jobs API) to a cluster")
    _common(s)
    s.add_argument("--address", required=True, help="the cluster's dashboard / Jobs API URL, e.g. http://127.0.0.1:8265")
    s.add_argument("--wait", action="store_true", help="follow the job's log to its end; exit non-zero unless it succeeded")
    s.add_argument("--token-file", help="Ray auth token file (default: $RAY_AUTH_TOKEN, $RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token)")
    s.add_argument("--python", default="python", help="python executable on the cluster (default: python)")
    s.add_argument("--timeout", type=float, help="with --wait: give up following after this many seconds")
    st = sub.add_parser("status", help="show a run's steps: status, key, timings, MLflow runs")
    st.add_argument("run", metavar="RUN", help="run directory")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    lg = sub.add_parser("logs", help="print a run's step logs (or the Ray job's driver log with --job)")
    lg.add_argument("run", metavar="RUN", help="run directory")
    lg.add_argument("step", nargs="?", help="one step (or a foreach step's name for all its items)")
    lg.add_argument("--tail", type=int, metavar="N", help="last N lines of each log")
    lg.add_argument("--job", action="store_true", help="the submitted Ray job's log from the cluster")
    lg.add_argument("--token-file", help="Ray auth token file (with --job)")


def run(args: argparse.Namespace) -> int:
    return {"run": _run, "submit": _submit, "status": _status, "logs": _logs}[args.wf_command](args)


def _run(args: argparse.Namespace) -> int:
    from workflows.dag import describe, load_workflow

    wf = load_workflow(args.dag, args.overrides)
    if args.dry_run:
        print(f"workflow {wf.name}: {len(wf.steps)} steps\n{describe(wf)}")
        return 0
    from workflows.console import Console
    from workflows.report import print_outcome
    from workflows.runner import run_workflow

    run_dir = args.run_dir or f"runs/{wf.name}"
    print(f"workflow {wf.name}: {len(wf.steps)} steps, run dir {run_dir}"
          + ("" if args.verbose else f" (full output: {run_dir}/logs/<step>.log, or -v)"), flush=True)
    report = run_workflow(wf, run_dir, address=args.address, targets=args.only, force=args.force,
                          work_dir=args.work_dir, mlflow=not args.no_mlflow, console=Console(verbose=args.verbose))
    print_outcome(wf, report)
    return 0 if report.ok else 1


def _submit(args: argparse.Namespace) -> int:
    from workflows.submit import follow, job_client, submit

    sub = submit(args.dag, args.address, args.run_dir, args.overrides, args.only, args.force, args.token_file,
                 args.python, args.work_dir, no_mlflow=args.no_mlflow)
    print(f"submitted Ray job {sub.job_id} to {sub.address}\n  entrypoint: {sub.entrypoint}\n  run dir: {sub.run_dir}")
    print(f"  follow: uniaudio workflow status {sub.run_dir}  |  uniaudio workflow logs {sub.run_dir} --job")
    if not args.wait:
        return 0
    status = follow(job_client(args.address, args.token_file), sub.job_id, timeout_s=args.timeout)
    print(f"\nRay job {sub.job_id}: {status}")
    return 0 if status == "SUCCEEDED" else 1


def _status(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from workflows.status import format_status, run_status

    st = run_status(args.run)
    if args.json:
        print(json.dumps({"run_dir": st.run_dir, "name": st.name, "latest": st.last, "submission": st.submission,
                          "steps": [{k: v for k, v in asdict(s).items() if k != "history"} for s in st.steps]},
                         indent=1, default=str))
    else:
        print(format_status(st))
    failed = any(s.status == "failed" for s in st.steps)
    return 1 if failed else 0


def _logs(args: argparse.Namespace) -> int:
    from uniaudio.errors import UserFacingError
    from workflows.status import run_status, step_logs

    if args.job:
        from workflows.submit import job_client

        sub = run_status(args.run).submission
        if not sub:
            raise UserFacingError(f"{args.run} was not submitted as a Ray job (no submission.json)")
        text = job_client(sub["address"], args.token_file).get_job_logs(sub["job_id"])
        lines = text.splitlines()
        print("\n".join(lines[-args.tail:] if args.tail else lines))
        return 0
    print(step_logs(args.run, args.step, args.tail))
    return 0
