#!/usr/bin/env bash
# Makes WebGPU available to Node on a machine without a GPU, for the webgpu backend's tests:
# Dawn (the `webgpu` npm package) on Mesa's lavapipe, a Vulkan driver that runs on the CPU.
# Debian 12's own Mesa 22.3 lavapipe is rejected by Dawn ("shaderUniform*ArrayDynamicIndexing
# required"); Mesa >= 25 from bookworm-backports works (../shared/recipes/webgpu-on-cpu.md).
#
# Idempotent: installs only what is missing. Needs root (or sudo) only when it installs.
# Exit 0 when a lavapipe new enough is present afterwards; 1 otherwise.
set -euo pipefail

MIN_MESA_MAJOR=25

mesa_major() {
  local v
  v=$(dpkg-query -W -f='${Status} ${Version}\n' mesa-vulkan-drivers 2>/dev/null | awk '$3 == "installed" { print $4 }')
  v=${v#*:} # drop an epoch
  echo "${v%%.*}"
}

installed() {
  dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

ready() {
  local major
  major=$(mesa_major)
  installed libvulkan1 && [[ -n "$major" && "$major" -ge $MIN_MESA_MAJOR ]]
}

if ready; then
  echo "setup-webgpu: libvulkan1 and mesa-vulkan-drivers $(mesa_major).x already installed"
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "setup-webgpu: not a Debian/Ubuntu system; install a Vulkan driver (Mesa >= $MIN_MESA_MAJOR lavapipe or a GPU driver) yourself" >&2
  exit 1
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "setup-webgpu: need root to install libvulkan1 and mesa-vulkan-drivers" >&2
    exit 1
  fi
fi

. /etc/os-release
if [[ "${VERSION_CODENAME:-}" == "bookworm" ]]; then
  list=/etc/apt/sources.list.d/bookworm-backports.list
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee "$list" >/dev/null
  fi
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvulkan1
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers
else
  # Newer releases ship a recent enough Mesa themselves.
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvulkan1 mesa-vulkan-drivers
fi

if ready; then
  echo "setup-webgpu: installed libvulkan1 and mesa-vulkan-drivers $(mesa_major).x"
  exit 0
fi
echo "setup-webgpu: mesa-vulkan-drivers is $(mesa_major).x, need >= $MIN_MESA_MAJOR" >&2
exit 1
