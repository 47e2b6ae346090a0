#!/usr/bin/env bash
# Installs a real VS Code (code-server 4.100.3) + Debian's Chromium for the end-to-end tests, following
# shared/recipes/code-server.md. Idempotent: the tools folder is cached outside the repo and a marker file
# records a finished install, so a second run takes well under a second.
#
# Why by hand: code-server's own postinstall downloads ripgrep and kerberos prebuilts from outside the npm
# registry, which cannot be reached here, so scripts are turned off and the native modules rebuilt locally.
#
# Prints the tools folder on its last line (the e2e harness reads it).
set -euo pipefail

CODE_SERVER_VERSION=4.100.3
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/finetune-studio"
TOOLS="$CACHE_ROOT/code-server-$CODE_SERVER_VERSION"
MARKER="$TOOLS/.installed"
# headers for code-server's native modules, a compiler to rebuild them, ripgrep, the browser
APT_PACKAGES=(libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev ripgrep chromium python3 make g++)

log() { echo "setup-code-server: $*" >&2; }

install_missing_apt_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then return; fi
  log "installing Debian packages: ${missing[*]}"
  local sudo=''
  if [ "$(id -u)" -ne 0 ]; then sudo='sudo'; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

install_code_server() {
  log "installing code-server $CODE_SERVER_VERSION into $TOOLS (a few minutes, ~600 MB)"
  rm -rf "$TOOLS"
  mkdir -p "$TOOLS"
  cd "$TOOLS"
  echo '{"name":"finetune-studio-e2e-tools","private":true}' > package.json
  npm install --no-audit --no-fund --ignore-scripts "code-server@$CODE_SERVER_VERSION" >&2
  npm rebuild argon2 >&2
  local vscode="$TOOLS/node_modules/code-server/lib/vscode"
  (
    cd "$vscode"
    npm install --no-audit --no-fund --omit=dev --ignore-scripts >&2
    npm_config_yes=true npm rebuild kerberos node-pty @vscode/spdlog @parcel/watcher native-watchdog @vscode/deviceid >&2
    mkdir -p node_modules/@vscode/ripgrep/bin
    cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
    ln -sfn node_modules node_modules.asar
    cd extensions
    npm install --no-audit --no-fund --omit=dev --ignore-scripts >&2
  )
  date -u +%FT%TZ > "$MARKER"
}

install_missing_apt_packages
if [ ! -f "$MARKER" ]; then install_code_server; fi
echo "$TOOLS"
