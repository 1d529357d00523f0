#!/usr/bin/env bash
# `make demo`: run workflows/demo.yaml end to end on the embedded default (local Ray, MLflow sqlite
# under the run directory). A thin wrapper: the workflow runner does the work and prints, at the end,
# where the generated samples, the evaluation table and the MLflow UI command are.
#   DEMO_OUT=dir make demo            # another run directory (default demo_out/)
#   DEMO_ARGS="--set vars.lm_steps=100" make demo
# Running it again skips every finished step; a failed step is retried from where it stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${DEMO_OUT:-demo_out}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
start=$(date +%s)
# shellcheck disable=SC2086  # DEMO_ARGS is a list of flags
.venv/bin/uniaudio workflow run workflows/demo.yaml --run-dir "$OUT" ${DEMO_ARGS:-}
echo "==> demo finished in $(( $(date +%s) - start )) s (run dir: $OUT)"
