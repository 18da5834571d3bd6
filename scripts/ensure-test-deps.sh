#!/usr/bin/env bash
# What `npm test` needs outside npm: a Vulkan adapter for the webgpu tests (mesa's lavapipe), Debian's Chromium (the webview and UI tests drive it headless) and the
# DejaVu fonts (their screenshots and text metrics); and for the PyTorch engine's tests, Debian's python3-torch
# with OpenBLAS (libopenblas0-pthread: without it Debian's torch runs on the reference BLAS, ~10x slower). Run
# first by `npm test` and by .ci/run. PyTorch is installed when it can be (root with apt-get); elsewhere its tests
# skip with a printed reason, and this script says what to install.
#   - both present: exits 0 at once (a few milliseconds; nothing is run);
#   - missing, as root with apt-get (Debian/Ubuntu): installs `chromium fonts-dejavu-core` with apt;
#   - missing otherwise: prints the one command to run, and exits 1.
# The Chromium looked for is $CHROMIUM_PATH, else /usr/bin/chromium (as in test/webview/harness.ts); the fonts
# are looked for at $DEJAVU_FONT, else Debian's path of DejaVuSans.ttf.
set -euo pipefail

# apt-get update, then install the packages given (non-interactive, no recommends).
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@"
}

# PyTorch for the torch engine: the interpreter its tests use ($CONVBERT_PYTHON, else Debian's /usr/bin/python3;
# TORCH_PYTHON and OPENBLAS_BLAS override both checks, for this script's own test).
TORCH_PYTHON=${TORCH_PYTHON:-${CONVBERT_PYTHON:-/usr/bin/python3}}
TORCH_PACKAGES=(python3-torch python3-numpy libopenblas0-pthread)
have_openblas() {
  [ -n "${CONVBERT_PYTHON:-}" ] && return 0 # the user's own PyTorch brings its BLAS
  local f
  for f in ${OPENBLAS_BLAS:-/usr/lib/*/openblas-pthread/libblas.so.3}; do [ -e "$f" ] && return 0; done
  return 1
}
if ! "$TORCH_PYTHON" -c 'import torch, numpy' >/dev/null 2>&1 || ! have_openblas; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -z "${CONVBERT_PYTHON:-}" ]; then
    echo "ensure-test-deps: PyTorch for the torch engine's tests: apt-get install ${TORCH_PACKAGES[*]}" >&2
    apt_install "${TORCH_PACKAGES[@]}"
  else
    echo "ensure-test-deps: no PyTorch with OpenBLAS in ${TORCH_PYTHON}: the torch engine's tests will be skipped (install ${TORCH_PACKAGES[*]}, or set CONVBERT_PYTHON)" >&2
  fi
fi

# A Vulkan adapter for the webgpu backend's tests (Dawn from the npm package `webgpu`): on these GPU-less machines
# mesa's lavapipe, a software Vulkan driver. Dawn refuses Debian bookworm's mesa 22.3; bookworm-backports' 25.x works
# (shared/research/gpu-probe.md). Installed when it can be (root with apt-get); elsewhere the webgpu tests skip with
# a printed reason. WEBGPU_ICD, VULKAN_LOADER, OS_RELEASE and APT_SOURCES override the files looked at (this script's
# own test).
have_vulkan_adapter() {
  local f mesa
  mesa=$(dpkg-query -W -f '${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  local loader found=
  for loader in ${VULKAN_LOADER:-/usr/lib/*-linux-gnu/libvulkan.so.1}; do [ -e "$loader" ] && found=1; done
  [ -n "$found" ] || return 1
  for f in ${WEBGPU_ICD:-/usr/share/vulkan/icd.d/*.json}; do
    [ -e "$f" ] || continue
    if [ -n "$mesa" ] && grep -qs 'libvulkan_lvp' "$f"; then dpkg --compare-versions "$mesa" ge 23 && return 0; continue; fi
    grep -qs 'libvulkan_' "$f" && continue # mesa's drivers for GPUs this machine may not have
    return 0                                # a GPU vendor's own driver (NVIDIA's: libGLX_nvidia)
  done
  return 1
}
if ! have_vulkan_adapter; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    codename=$(. "${OS_RELEASE:-/etc/os-release}" 2>/dev/null && echo "${VERSION_CODENAME:-}")
    sources=${APT_SOURCES:-/etc/apt/sources.list.d}
    if [ "$codename" = bookworm ]; then
      if ! grep -rqs 'bookworm-backports' "$sources"/ "$sources/../sources.list"; then
        uri=$(grep -hs '^URIs:' "$sources/debian.sources" | head -1 | awk '{print $2}' || true)
        printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
          "${uri:-http://deb.debian.org/debian}" >"$sources/backports.sources"
      fi
      echo "ensure-test-deps: a Vulkan adapter for the webgpu tests: apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1" >&2
      apt_install -t bookworm-backports mesa-vulkan-drivers libvulkan1
    else
      echo "ensure-test-deps: a Vulkan adapter for the webgpu tests: apt-get install mesa-vulkan-drivers libvulkan1" >&2
      apt_install mesa-vulkan-drivers libvulkan1
    fi
  else
    echo "ensure-test-deps: no Vulkan adapter Dawn accepts: the webgpu tests will be skipped (install mesa-vulkan-drivers ≥ 23 and libvulkan1; on Debian bookworm from bookworm-backports)" >&2
  fi
fi

# The blas backend's native addon (scripts/build-native.mjs, run next by `npm test`): a C compiler and OpenBLAS with
# its headers. Installed when it can be (root with apt-get); elsewhere its tests skip with the build's reason printed.
# CBLAS_HEADER overrides the header looked for (this script's own test).
BLAS_PACKAGES=(gcc libc6-dev libopenblas-dev)
have_blas_build() {
  command -v cc >/dev/null 2>&1 || return 1
  local h
  for h in ${CBLAS_HEADER:-/usr/include/*/cblas.h /usr/include/cblas.h}; do [ -e "$h" ] && return 0; done
  return 1
}
if ! have_blas_build; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-test-deps: a C compiler and OpenBLAS for the blas backend's addon: apt-get install ${BLAS_PACKAGES[*]}" >&2
    apt_install "${BLAS_PACKAGES[@]}"
  else
    echo "ensure-test-deps: no C compiler or OpenBLAS headers: the blas backend's tests will be skipped (install ${BLAS_PACKAGES[*]})" >&2
  fi
fi

CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
FONT=${DEJAVU_FONT:-/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf}
PACKAGES=(chromium fonts-dejavu-core)

missing=()
[ -x "$CHROMIUM" ] || missing+=("Chromium at $CHROMIUM")
[ -f "$FONT" ] || missing+=("the DejaVu fonts at $FONT")
[ ${#missing[@]} -eq 0 ] && exit 0

what=${missing[0]}
[ ${#missing[@]} -gt 1 ] && what="$what and ${missing[1]}"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-test-deps: ${what} missing: apt-get install ${PACKAGES[*]}" >&2
  apt_install "${PACKAGES[@]}"
  if [ -x "$CHROMIUM" ] && [ -f "$FONT" ]; then exit 0; fi
  echo "ensure-test-deps: apt-get installed ${PACKAGES[*]}, but ${CHROMIUM} or ${FONT} is still missing; set CHROMIUM_PATH to a Chromium binary" >&2
  exit 1
fi

if command -v apt-get >/dev/null 2>&1; then
  command="sudo apt-get install -y --no-install-recommends ${PACKAGES[*]}"
else
  command="install Chromium and the DejaVu fonts with your package manager, then: export CHROMIUM_PATH=/path/to/chromium"
fi
echo "ensure-test-deps: the tests need ${what}, which is missing. Run:" >&2
echo "  ${command}" >&2
exit 1
