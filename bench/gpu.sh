#!/usr/bin/env bash
# The GPU benchmark (issues #11 and #13): python/convbert_torch/gpu_bench.py on the first Python that has torch,
# with python/ on PYTHONPATH, then — when bench/gpu-carry/webgpu-carry.tar.xz is there (bench/gpu-pack.sh) — the
# same models on the TF.js webgpu backend (bench/webgpu.bench.ts, bundled with its own Node binary, Dawn and the
# Vulkan loader), and the webgpu/PyTorch fp32 eager ratio of tokens/s. The output is also written to
# bench/gpu-results-<UTC date-time>.txt (or $GPU_BENCH_OUT). Needs PyTorch (1.13 … 2.x) and numpy only: no Node.js,
# no network (the specs and FLOPs are committed in bench/gpu/, the webgpu part brings its own runtime).
#
#   bench/gpu.sh [--device cuda|cpu] [--steps 10] [--warmup 3] [--models bert-base,groupbert-base]
#                [--settings fp32:32,bf16:256,bf16-compile:256] [--spec-dir bench/gpu] [--engines ours,plain] [--json FILE]
#                [--tiny] [--no-webgpu | --webgpu-only]
#
# --tiny: a smoke run of the whole path in seconds: --device cpu --models bert-tiny,groupbert-tiny --settings fp32:4
#   --steps 2 --warmup 1 (each overridable) and the webgpu part on the same tiny models (any adapter, software too).
# The webgpu rows use the models, --steps and --warmup of the PyTorch run and the B of its fp32 setting (32 when
# --settings has none). The archive is unpacked once into $CONVBERT_WEBGPU_PREFIX (default
# ${TMPDIR:-/tmp}/convbert-webgpu-<its sha256>); $CONVBERT_WEBGPU_CARRY names another folder than bench/gpu-carry.
# The webgpu rows are also written as JSON beside the results file (<results>-webgpu.json). With the device tool:
# bench/gpu-pack.sh here, then run `bench/gpu.sh …` there with carry ["bench/gpu-carry"] (the archive is ~29 MiB).
#
# Exit 2 (and a message) when no CUDA device is visible, unless --device cpu; 1 when a cell or a webgpu row failed (the
# webgpu backend not loading at all, e.g. no adapter, is a note, and exit 1 only with --webgpu-only).
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

# gpu.sh's own options; the rest goes to gpu_bench.py (whose argparse takes the last of a repeated option).
tiny=0
webgpu=auto
py_args=()
for a in "$@"; do
  case "$a" in
    --tiny) tiny=1 ;;
    --no-webgpu) webgpu=off ;;
    --webgpu-only) webgpu=only ;;
    *) py_args+=("$a") ;;
  esac
done
if [ "$tiny" = 1 ]; then
  py_args=(--device cpu --models bert-tiny,groupbert-tiny --settings fp32:4 --steps 2 --warmup 1 ${py_args[@]+"${py_args[@]}"})
fi

# The values both halves need (the last one given wins, as in argparse).
device=cuda models=bert-base,groupbert-base settings=fp32:32,bf16:256,bf16-compile:256 steps=10 warmup=3 json=""
for ((i = 0; i < ${#py_args[@]}; i++)); do
  a="${py_args[$i]}"
  next="${py_args[$((i + 1))]:-}"
  case "$a" in
    --device) device="$next" ;;
    --device=*) device="${a#--device=}" ;;
    --models) models="$next" ;;
    --models=*) models="${a#--models=}" ;;
    --settings) settings="$next" ;;
    --settings=*) settings="${a#--settings=}" ;;
    --steps) steps="$next" ;;
    --steps=*) steps="${a#--steps=}" ;;
    --warmup) warmup="$next" ;;
    --warmup=*) warmup="${a#--warmup=}" ;;
    --json) json="$next" ;;
    --json=*) json="${a#--json=}" ;;
    -h | --help) device=help ;;
  esac
done

export PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}"
if [ "$device" = cuda ] && [ "$webgpu" != only ]; then
  if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 2)' >/dev/null 2>&1; then
    version="$("$PY" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)' 2>/dev/null)"
    echo "bench/gpu.sh: no CUDA device: $PY has torch $version and sees none. Run it on an NVIDIA machine with a CUDA build of torch (check nvidia-smi, CUDA_VISIBLE_DEVICES), or pass --device cpu for a smoke run." >&2
    exit 2
  fi
fi
if [ "$device" = help ]; then
  sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
  exec "$PY" -m convbert_torch.gpu_bench --help
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/convbert-gpu-sh-XXXXXX")"
trap 'rm -rf "$work"' EXIT
if [ -z "$json" ]; then
  json="$work/torch.json"
  py_args+=(--json "$json")
fi

out="${GPU_BENCH_OUT:-$ROOT/bench/gpu-results-$(date -u +%Y-%m-%dT%H%M%SZ).txt}"
echo "bench/gpu.sh: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])')), writing $out"
: >"$out"
status=0
if [ "$webgpu" != only ]; then
  "$PY" -m convbert_torch.gpu_bench "${py_args[@]}" 2>&1 | tee -a "$out"
  status="${PIPESTATUS[0]}"
  [ "$status" = 2 ] && exit 2
fi

# --- webgpu (issue #13) --------------------------------------------------------------------------------------
say() { printf '%s\n' "$*" | tee -a "$out"; }
carry="${CONVBERT_WEBGPU_CARRY:-$ROOT/bench/gpu-carry}"
archive="$carry/webgpu-carry.tar.xz"
if [ "$webgpu" = off ]; then
  exit "$status"
fi
say ""
if [ ! -f "$archive" ]; then
  say "webgpu: not run: no $archive (make it with bench/gpu-pack.sh on a Linux x64 machine with Node.js and npm ci done, and bring bench/gpu-carry/ along)"
  [ "$webgpu" = only ] && exit 2
  exit "$status"
fi

# Unpack once per archive: node, the bundle, dawn.node, and the .debs extracted under root/ (no dpkg, no root).
sha="$(sha256sum "$archive" | cut -c1-12)"
prefix="${CONVBERT_WEBGPU_PREFIX:-${TMPDIR:-/tmp}/convbert-webgpu-$sha}"
if [ ! -f "$prefix/.unpacked" ]; then
  say "webgpu: unpacking $archive into $prefix"
  if ! "$PY" - "$archive" "$prefix" <<'PY' 2>&1 | tee -a "$out"; then
import glob, io, os, shutil, sys, tarfile

archive, prefix = sys.argv[1:3]
part = prefix + '.part'
shutil.rmtree(part, ignore_errors=True)
shutil.rmtree(prefix, ignore_errors=True)


def extract(t: tarfile.TarFile, dest: str) -> None:
    if hasattr(tarfile, 'tar_filter'):
        t.extractall(dest, filter='tar')  # members keep their modes; leading '/' and '..' are refused
    else:
        t.extractall(dest)


with tarfile.open(archive, 'r:xz') as t:
    extract(t, part)
root = os.path.join(part, 'root')
debs = sorted(glob.glob(os.path.join(part, 'debs', '*.deb')))
if not debs:
    sys.exit(f'webgpu: {archive} holds no .deb files')
for deb in debs:  # an ar archive: debian-binary, control.tar.*, data.tar.*
    data = open(deb, 'rb').read()
    if data[:8] != b'!<arch>\n':
        sys.exit(f'webgpu: {os.path.basename(deb)} is not a Debian package')
    off, found = 8, False
    while off + 60 <= len(data):
        name = data[off:off + 16].decode().strip().rstrip('/')
        size = int(data[off + 48:off + 58].decode().strip())
        if name.startswith('data.tar'):
            if name.endswith('.zst'):
                sys.exit(f'webgpu: {os.path.basename(deb)} has a zstd data.tar, which Python cannot read: pack Debian (xz) packages')
            with tarfile.open(fileobj=io.BytesIO(data[off + 60:off + 60 + size]), mode='r:*') as t:
                extract(t, root)
            found = True
        off += 60 + size + (size & 1)
    if not found:
        sys.exit(f'webgpu: {os.path.basename(deb)} has no data.tar')
open(os.path.join(part, '.unpacked'), 'w').write(archive + '\n')
os.rename(part, prefix)
PY
    say "webgpu: unpacking failed"
    exit 1
  fi
fi

if ! node_version="$("$prefix/node" --version 2>&1)"; then
  say "webgpu: the unpacked node does not run ($node_version): a noexec $prefix? set CONVBERT_WEBGPU_PREFIX to another folder"
  [ "$status" = 0 ] && status=1
  exit "$status"
fi

"$PY" - "$prefix/manifest.json" <<'PY' 2>&1 | tee -a "$out"
import json, sys

m = json.load(open(sys.argv[1]))
dirty = ' + uncommitted changes' if m.get('dirty') else ''
print(f"webgpu: archive packed {m['created']} from commit {(m.get('commit') or '?')[:12]}{dirty}; Node {m['node']}, "
      f"webgpu {m['packages']['webgpu']}, tfjs-backend-webgpu {m['packages']['@tensorflow/tfjs-backend-webgpu']}; {' '.join(m['debs'])}")
PY

# The Vulkan loader and GLVND from the archive first; the NVIDIA driver's own libraries (libGLX_nvidia, the ICD)
# where the container has them; its ICD manifest named when it is in the usual places (else the loader searches).
libs="$prefix/root/usr/lib/x86_64-linux-gnu"
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -d "$d" ] && libs="$libs:$d"; done
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -z "${VK_ICD_FILENAMES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; break; fi
  done
fi
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -w "${XDG_RUNTIME_DIR:-/nonexistent}" ]; then
  export XDG_RUNTIME_DIR="$work/xdg"
  mkdir -p -m 700 "$XDG_RUNTIME_DIR"
fi

# The webgpu rows: the PyTorch run's models, steps and warm-up, and its fp32 setting's B.
batch=32
IFS=',' read -r -a setting_list <<<"$settings"
for st in "${setting_list[@]}"; do
  case "$st" in
    fp32) batch=32; break ;;
    fp32:*) batch="${st#fp32:}"; break ;;
  esac
done
wjson="${out%.txt}-webgpu.json"
wargs=(--models "$models" --batch "$batch" --steps "$steps" --warmup "$warmup" --json "$wjson")
rm -f "$wjson"
run_webgpu() {
  say "webgpu: $prefix/node webgpu-bench.mjs ${wargs[*]} (VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset})"
  (cd "$prefix" && timeout "${CONVBERT_WEBGPU_TIMEOUT:-1800}" ./node webgpu-bench.mjs "${wargs[@]}") 2>&1 | grep -v '^{"format":"convbert-webgpu-bench"' | tee -a "$out" "$work/webgpu.log"
  wstatus="${PIPESTATUS[0]}"
}
run_webgpu
# No adapter with the libraries in a private folder: once more with them installed the way gpu-probe.md did (dpkg -x
# into /, ldconfig; root and dpkg-deb only; CONVBERT_WEBGPU_SYSTEM_ROOT=DIR installs elsewhere, for tests), with the
# Vulkan loader's own account of the drivers it tried.
if [ "$wstatus" = 2 ] && grep -q 'found no GPU adapter' "$work/webgpu.log" && [ "$(id -u)" = 0 ] && command -v dpkg-deb >/dev/null 2>&1 \
  && [ -z "${CONVBERT_WEBGPU_NO_SYSTEM:-}" ]; then
  sysroot="${CONVBERT_WEBGPU_SYSTEM_ROOT:-/}"
  say "webgpu: no adapter; installing the packages into $sysroot (dpkg-deb -x, ldconfig) and trying again with VK_LOADER_DEBUG=error,driver"
  for deb in "$prefix"/debs/*.deb; do dpkg-deb -x "$deb" "$sysroot"; done
  [ "$sysroot" = / ] && command -v ldconfig >/dev/null 2>&1 && ldconfig
  export VK_LOADER_DEBUG=error,driver
  run_webgpu
  unset VK_LOADER_DEBUG
fi
if [ "$wstatus" = 2 ] && [ ! -f "$wjson" ]; then
  # The backend did not load (no adapter, no Dawn for this platform): a note, not a failed run, unless asked for alone.
  say "webgpu: not run: the webgpu backend did not load here (the reason is above)"
  [ "$webgpu" = only ] && [ "$status" = 0 ] && status=1
  exit "$status"
fi
if [ "$wstatus" != 0 ]; then
  [ "$status" = 0 ] && status=1
  [ -f "$wjson" ] || { say "webgpu: failed (exit $wstatus): no webgpu rows"; exit "$status"; }
fi
say "webgpu: rows as JSON in $wjson"

# webgpu / PyTorch fp32 eager: tokens/s of the median steps, same models, S, B and FLOPs.
if [ "$webgpu" != only ] && [ -f "$json" ]; then
  "$PY" - "$json" "$wjson" <<'PY' 2>&1 | tee -a "$out"
import json, sys

torch_run, web = (json.load(open(p)) for p in sys.argv[1:3])
dev = web.get('device') or {}
where = ('software adapter: ' if dev.get('software') else '') + (dev.get('description') or dev.get('architecture') or web['backend'])
print(f'\nwebgpu ({where}) / PyTorch fp32 eager, tokens/s of the median step (same models, S, B, FLOPs):')
print(f'  {"model":<16}{"B":>4}  {"webgpu tok/s":>13}  {"plain tok/s":>12}  {"webgpu/plain":>12}  {"ours tok/s":>11}  {"webgpu/ours":>11}')
target = None
for row in web['rows']:
    def torch_cell(engine):
        return next((c for c in torch_run['cells'] if c['setting'] == 'fp32' and c['model'] == row['model'] and c['engine'] == engine
                     and c['batch'] == row['batch'] and c['status'] == 'ok'), None)
    if row['status'] != 'ok':
        print(f'  {row["model"]:<16}{row["batch"]:>4}  {row.get("message", row["status"])}')
        continue
    w = row['tokensPerSecond']
    cells = {e: torch_cell(e) for e in ('plain', 'ours')}
    fig = {e: (f'{c["tokensPerSecond"]:>,.0f}', f'{w / c["tokensPerSecond"]:.3f}') if c else ('–', '–') for e, c in cells.items()}
    print(f'  {row["model"]:<16}{row["batch"]:>4}  {w:>13,.0f}  {fig["plain"][0]:>12}  {fig["plain"][1]:>12}  {fig["ours"][0]:>11}  {fig["ours"][1]:>11}')
    if row['model'].startswith('groupbert') and cells['plain']:
        target = (row['model'], w / cells['plain']['tokensPerSecond'])
if target:
    name, r = target
    verdict = 'met' if r >= 0.5 else 'not met'
    note = ' (a software adapter: not a GPU figure)' if dev.get('software') else ''
    print(f'{name}: webgpu reaches {r:.3f}x the tokens/s of PyTorch fp32 eager (plain loop); issue #13 asks >= 0.5x: {verdict}{note}')
else:
    print('no GroupBERT pair of webgpu and PyTorch fp32 (plain) rows to compare (is fp32 in --settings and plain in --engines?)')
PY
fi
exit "$status"
