#!/usr/bin/env bash
# Build DeepSpeed's CPU shared-memory comm op once at install time, so the first training run does
# not spend ~30-60 s JIT-compiling it (the result is cached in $TORCH_EXTENSIONS_DIR or
# ~/.cache/torch_extensions). Skipped on machines with a CUDA GPU, where the op is not used.
set -euo pipefail
py=${1:-python}
DS_ACCELERATOR=cpu "$py" - <<'PY'
import torch
if torch.cuda.is_available():
    raise SystemExit(0)
from deepspeed.ops.op_builder.cpu import ShareMemCommBuilder
ShareMemCommBuilder().load(verbose=False)
print("deepspeed CPU shm_comm op ready")
PY
