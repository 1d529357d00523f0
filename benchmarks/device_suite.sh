#!/usr/bin/env bash
# Every GPU benchmark in one prepared run, for a session that is lent a GPU machine for a few minutes.
#
#   here:   bash infra/scripts/device_bundle.sh          # .device/: wheels the GPU image lacks + the speech
#   there:  bash benchmarks/device_suite.sh "$OUT"       # device run, carry [".device"], timeout_s 600
#   smoke:  SUITE_DEVICE=cpu bash benchmarks/device_suite.sh /tmp/suite   # the same steps, tiny sizes, CPU
#
# Steps (each under its own time limit, so one that hangs cannot take the others' time):
#   codec_encode    batched bf16 encode of 1 h of 10 s clips (x real time per GPU), then the agreement of the
#                   GPU's codes with the fp32 CPU encode (fp32 as PyTorch sets it up, fp32 without TF32, bf16)
#   model_step      the 1B preset's training step: frames/s, TFLOP/s, MFU (bf16, fused AdamW)
#   generate_speed  KV-cached decoding of 10 s of audio on the 1B preset, batch 1 and 64, eager and CUDA graph
# Writes OUTDIR/bench.txt (every BENCH line, then one "# step rc=N seconds=S" line per step), OUTDIR/env.txt
# and OUTDIR/<step>.log, and prints bench.txt at the end. Exit status: the number of steps that failed.
set -uo pipefail
out=${1:?usage: device_suite.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
dev=${SUITE_DEVICE:-cuda}
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}  # the project, not installed there

bundle=${SUITE_BUNDLE:-.device}  # what infra/scripts/device_bundle.sh wrote
if compgen -G "$bundle/whl/*.whl" > /dev/null; then  # the machine has no network: wheels travel with the tree
  site=${TMPDIR:-/tmp}/uniaudio-device-site
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
    "$bundle"/whl/*.whl || { echo "device_suite: installing $bundle/whl failed"; exit 99; }
  export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}
fi
[ -d "$bundle/audio" ] && export UNIAUDIO_BENCH_AUDIO=$(cd "$bundle/audio" && pwd)

{
  date -u +"%Y-%m-%dT%H:%M:%SZ"
  git rev-parse HEAD 2>/dev/null || echo "(no git)"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>/dev/null \
    || echo "no nvidia-smi"
  "$py" -c "import sys, torch; print('python', sys.version.split()[0], 'torch', torch.__version__, \
'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
  nproc
} > "$out/env.txt" 2>&1
: > "$out/bench.txt"

if [ "$dev" = cpu ]; then  # smoke: every step's code path on the CPU (the device path: any device but "cpu")
  codec=(benchmarks/codec_encode.py --device cpu:0 --hours 0.003 --repeats 1)
  step_=(benchmarks/model_step.py --gpu --device cpu --preset tiny --batch 1 --frames 32 --steps 1 --warmup 1)
  gen=(benchmarks/generate_speed.py --gpu --device cpu --presets tiny --batches 1 --frames 8 --no-graph)
else
  codec=(benchmarks/codec_encode.py --device "$dev" --bf16 --hours 1)
  step_=(benchmarks/model_step.py --gpu --device "$dev")
  gen=(benchmarks/generate_speed.py --gpu --device "$dev")
fi

failed=0
run_step() {  # name, seconds allowed, the script and its arguments
  local name=$1 limit=$2 t0 rc
  shift 2
  echo "== $name (limit ${limit}s): $*"
  t0=$(date +%s)
  timeout --signal=TERM --kill-after=10 "$limit" "$py" "$@" > "$out/$name.log" 2>&1
  rc=$?
  grep '^BENCH ' "$out/$name.log" >> "$out/bench.txt"
  echo "# $name rc=$rc seconds=$(( $(date +%s) - t0 ))" >> "$out/bench.txt"
  if [ "$rc" -ne 0 ]; then
    failed=$((failed + 1))
    tail -n 15 "$out/$name.log"
  fi
}
run_step codec_encode "${SUITE_CODEC_S:-150}" "${codec[@]}"
run_step model_step "${SUITE_STEP_S:-150}" "${step_[@]}"
run_step generate_speed "${SUITE_GENERATE_S:-210}" "${gen[@]}"

cat "$out/env.txt" "$out/bench.txt"
exit "$failed"
