#!/usr/bin/env bash
# The torch engine's GPU benchmark (issue #11): python/convbert_torch/gpu_bench.py on the first Python that has torch,
# with python/ on PYTHONPATH; the output is also written to bench/gpu-results-<UTC date-time>.txt (or $GPU_BENCH_OUT).
# Needs PyTorch (1.13 … 2.x) and numpy only: no Node.js, no network (the specs and FLOPs are committed in bench/gpu/).
#
#   bench/gpu.sh [--device cuda|cpu] [--steps 10] [--warmup 3] [--models bert-base,groupbert-base]
#                [--settings fp32:32,bf16:256,bf16-compile:256] [--spec-dir bench/gpu] [--engines ours,plain] [--json FILE]
#
# Exit 2 (and a message) when no CUDA device is visible, unless --device cpu.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

PY=""
for candidate in "${CONVBERT_PYTHON:-}" python3 /usr/bin/python3 python; do
  [ -n "$candidate" ] || continue
  command -v "$candidate" >/dev/null 2>&1 || continue
  if "$candidate" -c 'import torch, numpy' >/dev/null 2>&1; then PY="$candidate"; break; fi
done
if [ -z "$PY" ]; then
  echo "bench/gpu.sh: no Python with torch and numpy found (tried \$CONVBERT_PYTHON, python3, /usr/bin/python3, python); set CONVBERT_PYTHON" >&2
  exit 2
fi

device=cuda
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --device) device="${args[$((i + 1))]:-}" ;;
    --device=*) device="${args[$i]#--device=}" ;;
    -h | --help) device=help ;;
  esac
done

export PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}"
if [ "$device" = cuda ]; then
  if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 2)' >/dev/null 2>&1; then
    version="$("$PY" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)' 2>/dev/null)"
    echo "bench/gpu.sh: no CUDA device: $PY has torch $version and sees none. Run it on an NVIDIA machine with a CUDA build of torch (check nvidia-smi, CUDA_VISIBLE_DEVICES), or pass --device cpu for a smoke run." >&2
    exit 2
  fi
fi
if [ "$device" = help ]; then
  exec "$PY" -m convbert_torch.gpu_bench "$@"
fi

out="${GPU_BENCH_OUT:-$ROOT/bench/gpu-results-$(date -u +%Y-%m-%dT%H%M%SZ).txt}"
echo "bench/gpu.sh: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])')), writing $out"
"$PY" -m convbert_torch.gpu_bench "$@" 2>&1 | tee "$out"
exit "${PIPESTATUS[0]}"
