#!/usr/bin/env bash
# `make demo`: the most complete real end-to-end path that exists today. The workflow runner
# (workflows/demo.yaml) will replace this script once it lands; until then each step below is a real
# command of the CLI, run in order on the embedded default (local Ray, MLflow sqlite under $OUT).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.venv/bin
OUT=${DEMO_OUT:-demo_out}
mkdir -p "$OUT"
echo "==> uniaudio demo (pre-workflow): outputs under $OUT"
echo "==> [1] the task registry and the vocabulary"
$BIN/uniaudio tasks
$BIN/uniaudio vocab | head -10
echo "==> demo finished: see $OUT"
