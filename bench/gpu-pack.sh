#!/usr/bin/env bash
# Packs the webgpu half of bench/gpu.sh for a GPU machine that has no Node.js, no npm packages and no network
# (issue #13; shared/research/gpu-probe.md, "Running Node.js code on such a machine"). Run it here (Linux x64, with
# `npm ci` done and apt reachable); it writes bench/gpu-carry/ (gitignored; or --out DIR):
#
#   webgpu-carry.tar.xz   one xz stream (~29 MiB) holding
#       node                          this machine's Node binary (process.execPath; needs glibc and libstdc++ only)
#       webgpu-bench.mjs              bench/webgpu.bench.ts bundled with esbuild: the project's code, TF.js and
#                                     @tensorflow/tfjs-backend-webgpu, and bench/gpu/*.json, in one file
#       node_modules/webgpu/          package.json, LICENSE.md and dist/linux-x64/dawn.node (Dawn), where the
#                                     bundle's require finds them
#       debs/*.deb                    Debian's libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libgles2 libopengl0
#                                     (`apt-get download`): the Vulkan loader and GLVND the NVIDIA ICD needs
#       manifest.json                 versions and sources of the above
#   manifest.json         the same manifest, plus the archive's size and sha256
#
# bench/gpu.sh unpacks the archive into a private folder outside the repository and runs the bundle there beside the
# PyTorch rows. The device tool carries ignored paths named in its `carry` (64 MiB in all): carry bench/gpu-carry.
# This script refuses to write more than 60 MiB.
#
#   bench/gpu-pack.sh [--out DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/bench/gpu-carry"
LIMIT_MIB=60
DEBS=(libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libgles2 libopengl0)

while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="${2:?--out needs a folder}"; shift 2 ;;
    --out=*) OUT="${1#--out=}"; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/gpu-pack.sh: unknown option $1 (usage: bench/gpu-pack.sh [--out DIR])" >&2; exit 2 ;;
  esac
done

fail() { echo "bench/gpu-pack.sh: $*" >&2; exit 1; }
[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || fail "packs for linux-x64 GPU machines: run it on Linux x86_64 (this is $(uname -s)-$(uname -m))"
for tool in node xz apt-get sha256sum tar; do command -v "$tool" >/dev/null 2>&1 || fail "needs $tool"; done
ESBUILD="$ROOT/node_modules/.bin/esbuild"
WEBGPU_PKG="$ROOT/node_modules/webgpu"
DAWN="$WEBGPU_PKG/dist/linux-x64/dawn.node"
[ -x "$ESBUILD" ] || fail "no $ESBUILD: run npm ci first"
[ -f "$DAWN" ] || fail "no $DAWN: the optional package webgpu is not installed (npm i webgpu)"
[ -f "$ROOT/node_modules/@tensorflow/tfjs-backend-webgpu/package.json" ] || fail "@tensorflow/tfjs-backend-webgpu is not installed: run npm ci first"
NODE_BIN="$(node -p 'process.execPath')"

stage="$(mktemp -d "${TMPDIR:-/tmp}/convbert-gpu-pack-XXXXXX")"
trap 'rm -rf "$stage"' EXIT
chmod 755 "$stage"

# 1. The bundle. ESM with a `require` of its own (createRequire, as the project's CommonJS code calls `require`):
#    the backend loads @tensorflow/tfjs-backend-webgpu with a plain require once Dawn is up, so that require is
#    answered with the bundled copy (one TF.js instance); anything else (dawn.node, webgpu/package.json) is resolved
#    from the bundle's folder. --ignore-annotations keeps the side-effect imports (kernel and gradient registrations).
echo "bench/gpu-pack.sh: bundling bench/webgpu.bench.ts"
banner='import { createRequire as __convbertCreateRequire } from "node:module";
const __convbertNodeRequire = __convbertCreateRequire(import.meta.url);
const require = Object.assign((id) => { const m = globalThis.__convbertBundled && globalThis.__convbertBundled[id]; return m !== undefined ? m : __convbertNodeRequire(id); }, { resolve: __convbertNodeRequire.resolve, cache: __convbertNodeRequire.cache });'
entry='import * as tfjsBackendWebgpu from "@tensorflow/tfjs-backend-webgpu";
import { main } from "./bench/webgpu.bench.ts";
globalThis.__convbertBundled = { "@tensorflow/tfjs-backend-webgpu": tfjsBackendWebgpu };
main().then((code) => process.exit(code), (err) => { process.stderr.write(`webgpu.bench: ${err && err.stack || err}\n`); process.exit(1); });'
# (stdin's imports resolve from the current folder: the repository root)
(cd "$ROOT" && printf '%s\n' "$entry" | "$ESBUILD" --bundle --platform=node --format=esm --target=node20 --ignore-annotations \
  --main-fields=module,main --sourcefile=webgpu-bench-entry.ts --loader=ts \
  --banner:js="$banner" --log-level=warning --outfile="$stage/webgpu-bench.mjs")

# 2. Node, Dawn and the webgpu package's manifest (the backend finds dawn.node beside it).
cp "$NODE_BIN" "$stage/node"
mkdir -p "$stage/node_modules/webgpu/dist/linux-x64"
cp "$WEBGPU_PKG/package.json" "$WEBGPU_PKG/LICENSE.md" "$stage/node_modules/webgpu/"
cp "$DAWN" "$stage/node_modules/webgpu/dist/linux-x64/dawn.node"

# 3. The Vulkan loader and GLVND, as Debian packages (unpacked there with no root and no dpkg needed).
echo "bench/gpu-pack.sh: apt-get download ${DEBS[*]}"
mkdir -p "$stage/debs"
(cd "$stage/debs" && apt-get download -q "${DEBS[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
for d in "${DEBS[@]}"; do
  ls "$stage/debs/${d}_"*.deb >/dev/null 2>&1 || fail "apt-get download did not fetch $d (is apt reachable? try apt-get update)"
done

# 4. The manifest.
node - "$stage" "$ROOT" <<'EOF'
const fs = require('node:fs'), path = require('node:path'), crypto = require('node:crypto'), cp = require('node:child_process');
const [stage, root] = process.argv.slice(2);
const sha = (f) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const files = {};
const walk = (dir) => { for (const e of fs.readdirSync(dir, { withFileTypes: true })) { const p = path.join(dir, e.name); if (e.isDirectory()) walk(p); else files[path.relative(stage, p)] = { bytes: fs.statSync(p).size, sha256: sha(p) }; } };
walk(stage);
const git = (...a) => { try { return cp.execFileSync('git', ['-C', root, ...a], { encoding: 'utf8' }).trim(); } catch { return null; } };
const pkg = (n) => JSON.parse(fs.readFileSync(path.join(root, 'node_modules', n, 'package.json'), 'utf8')).version;
const manifest = {
  format: 'convbert-gpu-carry', version: 1, created: new Date().toISOString(),
  commit: git('rev-parse', 'HEAD'), dirty: (git('status', '--porcelain', '--', 'bench', 'src') ?? '') !== '',
  node: process.version, packages: { webgpu: pkg('webgpu'), '@tensorflow/tfjs-backend-webgpu': pkg('@tensorflow/tfjs-backend-webgpu'), '@tensorflow/tfjs-core': pkg('@tensorflow/tfjs-core'), esbuild: pkg('esbuild') },
  debs: fs.readdirSync(path.join(stage, 'debs')).sort(), files,
};
fs.writeFileSync(path.join(stage, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
EOF

# 5. One xz archive.
echo "bench/gpu-pack.sh: compressing ($(du -sm "$stage" | cut -f1) MiB)"
mkdir -p "$OUT"
rm -f "$OUT/webgpu-carry.tar.xz" "$OUT/webgpu-carry.tar.xz.part" "$OUT/manifest.json"
tar -C "$stage" -cf - . | xz -T2 -6 >"$OUT/webgpu-carry.tar.xz.part"
mv "$OUT/webgpu-carry.tar.xz.part" "$OUT/webgpu-carry.tar.xz"
bytes="$(stat -c %s "$OUT/webgpu-carry.tar.xz")"
node -e '
const fs = require("node:fs");
const [src, dst, bytes, sha] = process.argv.slice(1);
const m = JSON.parse(fs.readFileSync(src, "utf8"));
fs.writeFileSync(dst, JSON.stringify({ ...m, archive: { file: "webgpu-carry.tar.xz", bytes: Number(bytes), sha256: sha } }, null, 1) + "\n");
' "$stage/manifest.json" "$OUT/manifest.json" "$bytes" "$(sha256sum "$OUT/webgpu-carry.tar.xz" | cut -d' ' -f1)"
mib=$(( (bytes + 1048575) / 1048576 ))
if [ "$mib" -gt "$LIMIT_MIB" ]; then
  rm -f "$OUT/webgpu-carry.tar.xz"
  fail "the archive is $mib MiB, over the ${LIMIT_MIB} MiB this script allows (the device tool carries 64 MiB in all)"
fi
echo "bench/gpu-pack.sh: wrote $OUT/webgpu-carry.tar.xz ($(awk "BEGIN{printf \"%.1f\", $bytes/1048576}") MiB; Node $(node -p process.version), webgpu $(node -p "require('$WEBGPU_PKG/package.json').version")) and $OUT/manifest.json"
echo "bench/gpu-pack.sh: on the GPU machine: bench/gpu.sh (it finds $OUT) — check it here first: bench/gpu.sh --tiny"
