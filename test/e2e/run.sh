#!/usr/bin/env bash
# End-to-end tests in a real VS Code: code-server 4.139.1 (VS Code OSS 1.139.1) from npm, driven offline.
#   (a) the in-host mocha suite (test/e2e/suite) inside code-server's extension host, loaded through the URL payload;
#   (b) the Playwright UI test (test/e2e/drivers/ui.ts) in headless Debian chromium, with screenshots in
#       test-results/e2e/;
#   (c) the packaged extension (test/e2e/vsix.ts): `npm run package` builds one .vsix per platform, code-server's
#       --install-extension installs this machine's (convbert-studio-<target>.vsix) into a fresh extensions folder
#       in a temporary directory outside the repository, and a second code-server, without the smoke-test driver or
#       any development payload, runs it: it activates, trains 2 steps with the runtime shipped in the .vsix, and
#       opens its dashboard. (This rebuilds dist/ minified, so it runs last.)
# Installs into .e2e/ (git-ignored, reused by later runs; ~2 min cold), builds the extension, and ends with the
# plain line "e2e: N passed, M failed".
#
#   npm run test:e2e                      # all three parts
#   E2E_PARTS=host npm run test:e2e       # only (a);  E2E_PARTS=ui: only (b);  E2E_PARTS=vsix: only (c)
#   CONVBERT_E2E_GREP=<text>              # only the in-host tests whose title contains it
#   CONVBERT_E2E_JOB=mlm|mlm-module|toy   # the training job: the trainer's built-in masked-LM job (default), the same
#                                         # job loaded as a job module, or the toy job (src/core/train/toy-job.ts)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
E2E=${E2E_HOME:-$ROOT/.e2e}
PARTS=${E2E_PARTS:-host,ui,vsix}
SHOTS=${E2E_SHOTS:-$ROOT/test-results/e2e}
T0=$(date +%s)
stamp() { echo "[e2e $(( $(date +%s) - T0 ))s] $*"; }

bash test/e2e/install.sh
stamp "building the extension and the test bundles"
node scripts/package-runtime.mjs --clean   # a packaging run's dist/node_modules would shadow the repository's
node scripts/build.mjs
npx tsx test/e2e/build.ts
[ -f dist/webview/dashboard.js ] || { echo "e2e: dist/webview/dashboard.js is missing: the dashboard app was not built"; exit 1; }

# The training job: the trainer's built-in masked-LM job unless CONVBERT_E2E_JOB says otherwise.
JOB=${CONVBERT_E2E_JOB:-mlm}
case "$JOB" in
  toy) EXT_ENV=$(printf '{"CONVBERT_TRAINER_JOB_MODULE":"%s","CONVBERT_TOY_JOB":"{\\"stepDelayMs\\":40}"}' "$ROOT/out/e2e/toy-job.js"); UI_STEPS=120 ;;
  mlm-module) EXT_ENV=$(printf '{"CONVBERT_TRAINER_JOB_MODULE":"%s"}' "$ROOT/out/e2e/mlm-job.js"); UI_STEPS=60 ;;
  mlm) EXT_ENV='{}'; UI_STEPS=60 ;;
  *) echo "CONVBERT_E2E_JOB=$JOB: expected mlm, mlm-module or toy"; exit 2 ;;
esac
stamp "training job: $JOB"

RUN=${E2E_RUN:-$E2E/run}   # E2E_RUN/E2E_SHOTS: a folder of its own, to run two e2e sessions side by side
rm -rf "$RUN" "$SHOTS"
mkdir -p "$RUN/ud/User" "$RUN/exts" "$RUN/xdg-config" "$RUN/xdg-data" "$RUN/xdg-cache" "$RUN/home" "$SHOTS"
for ws in ws-host ws-ui; do cp -r test/e2e/fixtures/workspace "$RUN/$ws"; done
# The UI test watches the loss curve grow: a longer run there.
sed -i "s/\"steps\": 40,/\"steps\": ${E2E_UI_STEPS:-$UI_STEPS},/" "$RUN/ws-ui/model.convbert.json"
REF_HOST=$(npx tsx test/e2e/make-reference-run.ts "$RUN/ws-host")
REF_UI=$(npx tsx test/e2e/make-reference-run.ts "$RUN/ws-ui")
cat > "$RUN/ud/User/settings.json" <<'JSON'
{ "workbench.startupEditor": "none", "workbench.secondarySideBar.defaultVisibility": "hidden",
  "chat.disableAIFeatures": true, "security.workspace.trust.enabled": false, "telemetry.telemetryLevel": "off",
  "extensions.autoUpdate": false, "extensions.autoCheckUpdates": false, "extensions.ignoreRecommendations": true,
  "update.mode": "none", "git.enabled": false, "workbench.tips.enabled": false, "editor.codeLens": true,
  "workbench.colorTheme": "Default Dark Modern", "window.commandCenter": false }
JSON

PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
export XDG_CONFIG_HOME="$RUN/xdg-config" XDG_DATA_HOME="$RUN/xdg-data" XDG_CACHE_HOME="$RUN/xdg-cache"
HOME="$RUN/home" setsid "$E2E/node/bin/node" "$E2E/cs/node_modules/code-server/out/node/entry.js" \
  --bind-addr "127.0.0.1:$PORT" --auth none \
  --user-data-dir "$RUN/ud" --extensions-dir "$RUN/exts" \
  --disable-telemetry --disable-update-check --disable-workspace-trust --disable-getting-started-override \
  --vscode-option enable-smoke-test-driver \
  >"$RUN/code-server.log" 2>&1 &
CS_PID=$!
VCS_PID=
# The whole process group of each server: the server, its extension hosts, their trainers.
cleanup() { kill -- "-$CS_PID" 2>/dev/null || true; [ -z "$VCS_PID" ] || kill -- "-$VCS_PID" 2>/dev/null || true; }
trap cleanup EXIT
healthy() { node -e 'require("http").get(process.argv[1], (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on("error", () => process.exit(1))' "http://127.0.0.1:$PORT/healthz"; }
for _ in $(seq 1 150); do healthy && break; sleep 0.2; done
healthy || { cat "$RUN/code-server.log"; exit 1; }
stamp "code-server up on port $PORT (pid $CS_PID)"

export BASE="http://127.0.0.1:$PORT" EXT="$ROOT" PROFILE_ROOT="$RUN" SHOTS
HOST_PASS=0 HOST_FAIL=0 UI_PASS=0 UI_FAIL=0 VSIX_PASS=0 VSIX_FAIL=0 RC=0
if [[ ",$PARTS," == *",host,"* ]]; then
  stamp "(a) in-host tests"
  HOST_ENV=$(node -e 'const e=JSON.parse(process.argv[1]);e.CONVBERT_E2E_REFERENCE_RUN=process.argv[2];if(process.env.CONVBERT_E2E_GREP)e.CONVBERT_E2E_GREP=process.env.CONVBERT_E2E_GREP;console.log(JSON.stringify(e))' "$EXT_ENV" "$REF_HOST")
  set +e
  HOME="$RUN/home" WS="$RUN/ws-host" TESTS="$ROOT/out/e2e/suite/index.js" EXT_ENV="$HOST_ENV" npx tsx test/e2e/drivers/host-tests.ts 2>&1 | tee "$RUN/host-tests.log"
  rc=${PIPESTATUS[0]}
  set -e
  line=$(grep -Eo 'in-host: [0-9]+ passed, [0-9]+ failed' "$RUN/host-tests.log" | tail -1 || true)
  if [ -n "$line" ]; then HOST_PASS=$(echo "$line" | awk '{print $2}'); HOST_FAIL=$(echo "$line" | awk '{print $4}'); else HOST_FAIL=1; fi
  [ "$rc" -eq 0 ] || RC=1
fi
if [[ ",$PARTS," == *",ui,"* ]]; then
  stamp "(b) UI test (Playwright)"
  set +e
  HOME="$RUN/home" WS="$RUN/ws-ui" REFERENCE_RUN="$REF_UI" EXT_ENV="$EXT_ENV" E2E_JOB="$JOB" npx tsx test/e2e/drivers/ui.ts 2>&1 | tee "$RUN/ui.log"
  rc=${PIPESTATUS[0]}
  set -e
  line=$(grep -Eo 'ui: [0-9]+ passed, [0-9]+ failed' "$RUN/ui.log" | tail -1 || true)
  if [ -n "$line" ]; then UI_PASS=$(echo "$line" | awk '{print $2}'); UI_FAIL=$(echo "$line" | awk '{print $4}'); else UI_FAIL=1; fi
  [ "$rc" -eq 0 ] || RC=1
fi
if [[ ",$PARTS," == *",vsix,"* ]]; then
  stamp "(c) the packaged extension: npm run package, then --install-extension into a workbench without the payload"
  kill -- "-$CS_PID" 2>/dev/null || true   # done with the development server (its dist/ is rebuilt minified now)
  set +e
  npm run --silent package 2>&1 | tee "$RUN/package.log"
  rc=${PIPESTATUS[0]}
  set -e
  if [ "$rc" -ne 0 ]; then
    echo "e2e: npm run package failed"; VSIX_FAIL=1; RC=1
  else
    # Outside the repository: no node_modules above the installed extension or the workspace.
    VRUN=$(mktemp -d "${TMPDIR:-/tmp}/convbert-vsix.XXXXXX")
    mkdir -p "$VRUN/ud/User" "$VRUN/exts" "$VRUN/xdg-config" "$VRUN/xdg-data" "$VRUN/xdg-cache" "$VRUN/home"
    cp "$RUN/ud/User/settings.json" "$VRUN/ud/User/settings.json"
    cp -r test/e2e/fixtures/workspace "$VRUN/ws"
    sed -i -e 's/"steps": 40,/"steps": 2,/' -e 's/"evalInterval": 10,/"evalInterval": 2,/' -e 's/"checkpointInterval": 20,/"checkpointInterval": 2,/' "$VRUN/ws/model.convbert.json"
    VENV=(env -u NODE_PATH HOME="$VRUN/home" XDG_CONFIG_HOME="$VRUN/xdg-config" XDG_DATA_HOME="$VRUN/xdg-data" XDG_CACHE_HOME="$VRUN/xdg-cache")
    CS_ENTRY="$E2E/cs/node_modules/code-server/out/node/entry.js"
    "${VENV[@]}" "$E2E/node/bin/node" "$CS_ENTRY" --user-data-dir "$VRUN/ud" --extensions-dir "$VRUN/exts" \
      --install-extension "$ROOT/convbert-studio-$(node scripts/package-runtime.mjs --host-target).vsix" >"$VRUN/install.log" 2>&1 || { cat "$VRUN/install.log"; exit 1; }
    stamp "installed: $(grep -o 'Extension .* was successfully installed.*' "$VRUN/install.log" | head -1)"
    VPORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    # No --vscode-option enable-smoke-test-driver: a plain server, which ignores development payloads.
    setsid "${VENV[@]}" "$E2E/node/bin/node" "$CS_ENTRY" --bind-addr "127.0.0.1:$VPORT" --auth none \
      --user-data-dir "$VRUN/ud" --extensions-dir "$VRUN/exts" \
      --disable-telemetry --disable-update-check --disable-workspace-trust --disable-getting-started-override \
      >"$VRUN/code-server.log" 2>&1 &
    VCS_PID=$!
    vhealthy() { node -e 'require("http").get(process.argv[1], (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on("error", () => process.exit(1))' "http://127.0.0.1:$VPORT/healthz"; }
    for _ in $(seq 1 150); do vhealthy && break; sleep 0.2; done
    vhealthy || { cat "$VRUN/code-server.log"; exit 1; }
    set +e
    "${VENV[@]}" BASE="http://127.0.0.1:$VPORT" WS="$VRUN/ws" EXTENSIONS="$VRUN/exts" PROFILE_ROOT="$VRUN" REPO="$ROOT" \
      CS_NODE_PREFIX="$E2E/node" npx tsx test/e2e/vsix.ts 2>&1 | tee "$RUN/vsix.log"
    rc=${PIPESTATUS[0]}
    set -e
    kill -- "-$VCS_PID" 2>/dev/null || true
    VCS_PID=
    line=$(grep -Eo 'vsix: [0-9]+ passed, [0-9]+ failed' "$RUN/vsix.log" | tail -1 || true)
    if [ -n "$line" ]; then VSIX_PASS=$(echo "$line" | awk '{print $2}'); VSIX_FAIL=$(echo "$line" | awk '{print $4}'); else VSIX_FAIL=1; fi
    if [ "$rc" -eq 0 ]; then
      rm -rf "$VRUN"
    else
      RC=1; echo "e2e: the .vsix test failed; its folder is kept: $VRUN"
    fi
  fi
fi
grep -h 'activation: ' "$RUN/host-tests.log" 2>/dev/null | tail -1 || true
grep -h '^vsix: .*MiB' "$RUN/package.log" 2>/dev/null | tail -1 || true
stamp "done; screenshots in ${SHOTS#"$ROOT"/}, logs in ${RUN#"$ROOT"/}"
echo "e2e: $((HOST_PASS + UI_PASS + VSIX_PASS)) passed, $((HOST_FAIL + UI_FAIL + VSIX_FAIL)) failed (in-host $HOST_PASS/$((HOST_PASS + HOST_FAIL)), ui $UI_PASS/$((UI_PASS + UI_FAIL)), vsix $VSIX_PASS/$((VSIX_PASS + VSIX_FAIL)); $(( $(date +%s) - T0 ))s)"
exit $RC
