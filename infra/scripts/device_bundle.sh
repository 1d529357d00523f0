#!/usr/bin/env bash
# Build .device/: what benchmarks/device_suite.sh needs on a GPU machine that has PyTorch, numpy and PyYAML
# but nothing else and no network (the lent device machines: ../.library/device/KINDS.md).
#   .device/whl/    wheels of the project's pure-Python/binary needs the GPU image lacks, at the versions
#                   requirements/lock.txt pins, for that machine's Python (default 3.12, x86_64 manylinux)
#   .device/audio/  the benchmark speech: pocketsphinx-testdata's LibriVox clips (timed) and ~60 s of the
#                   asterisk prompts (codebook calibration); without them codec_encode.py falls back to noise
# Usage: bash infra/scripts/device_bundle.sh [PYTHON_VERSION]   (then carry ".device" in the device call)
set -euo pipefail
export LC_ALL=C  # the glob order of the calibration prompts = Python's sorted(), as codec_encode.py reads them
pyver=${1:-3.12}
root=.device
lock=requirements/lock.txt
# The import closure of the three GPU benchmarks beyond what the GPU image has (torch, numpy, PyYAML, pyarrow,
# fsspec, safetensors; checked in a venv holding only those); typing_extensions: pydantic needs a recent one.
needs=(pydantic pydantic_core annotated-types typing-inspection typing_extensions soundfile soxr cffi pycparser)

pin() {  # the lock's "name==version" for a package name, whatever its spelling (_ or -, case)
  grep -i -m1 -E "^${1//[-_]/[-_]}==" "$lock" || { echo "device_bundle: $1 is not pinned in $lock" >&2; exit 1; }
}

rm -rf "$root/whl"
mkdir -p "$root/whl" "$root/audio/librivox" "$root/audio/calibration"
specs=()
for n in "${needs[@]}"; do specs+=("$(pin "$n")"); done
plats=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 \
         manylinux2014_x86_64 manylinux1_x86_64; do plats+=(--platform "$p"); done
echo "==> wheels for Python $pyver: ${specs[*]}"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$pyver" --implementation cp \
  "${plats[@]}" -d "$root/whl" "${specs[@]}"

cp /usr/share/pocketsphinx/test/data/librivox/*.wav "$root/audio/librivox/" 2>/dev/null \
  || echo "device_bundle: no pocketsphinx-testdata (apt); codec_encode.py will time noise"
total=0
# The first files of codec_encode.py's sorted "en*/*.wav" glob (all in en/), until ~60 s of its 8 kHz 16-bit
# prompts: calibration reads 45 s.
for f in /usr/share/asterisk/sounds/en/*.wav; do
  [ -f "$f" ] || break
  cp "$f" "$root/audio/calibration/"
  total=$((total + $(stat -c %s "$f")))
  [ "$total" -gt $((60 * 8000 * 2)) ] && break
done
du -sh "$root"
