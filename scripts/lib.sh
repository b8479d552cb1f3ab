# shellcheck shell=bash
# Helpers shared by scripts/test, scripts/run and .ci/run. Source it:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Every helper is idempotent and cheap when its work is already done, because
# CI runs on a fresh clone (maybe a fresh machine) and developers rerun often.

# Repo root, whatever the caller's working directory.
AUTHGATE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export AUTHGATE_ROOT

# Debian packages the build and tests need: C libraries wrapped by the
# systemLibrary targets in Package.swift, pkg-config to find them, nginx and
# caddy for the forward-auth tests of deploy/, curl for smoke checks,
# chromium and its WebDriver for the single-page-app test in a real browser.
AUTHGATE_APT_PACKAGES=(
  libmongoc-dev libsodium-dev libcurl4-openssl-dev libssl-dev libsqlite3-dev
  pkg-config nginx-light caddy curl chromium chromium-driver
)

AUTHGATE_MONGOECO_SPEC='mongoeco[wire]==4.11.0'
AUTHGATE_PYJWT_SPEC='PyJWT==2.*'
# Drives Debian's chromium through chromium-driver for Tests/browser/.
AUTHGATE_SELENIUM_SPEC='selenium==4.51.0'

_ag_log() { printf '[authgate] %s\n' "$*" >&2; }

# Run as root directly, else through sudo (a developer's own machine).
_ag_as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_apt_packages [EXTRA...]: install whichever of the packages are
# missing; `apt-get update` runs once, and only when something is missing.
# shellcheck disable=SC2120 # EXTRA is optional
ensure_apt_packages() {
  local pkg missing=()
  for pkg in "${AUTHGATE_APT_PACKAGES[@]}" "$@"; do
    # dpkg-query is local and fast; "install ok installed" excludes
    # removed-but-configured leftovers.
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    return 0
  fi
  _ag_log "installing missing apt packages: ${missing[*]}"
  if [ -z "${_AG_APT_UPDATED:-}" ]; then
    _ag_as_root apt-get update -qq
    _AG_APT_UPDATED=1
  fi
  # Keep package postinst scripts from starting daemons (nginx and caddy
  # would grab port 80 on a CI machine; caddy's postinst starts it through
  # deb-systemd-invoke, which honours policy-rc.d too); tests start their own
  # nginx and caddy on free ports.
  # Only add policy-rc.d if there is none, and only for this install.
  local policy=/usr/sbin/policy-rc.d added_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | _ag_as_root tee "$policy" >/dev/null
    _ag_as_root chmod 755 "$policy"
    added_policy=1
  fi
  local rc=0
  _ag_as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" || rc=$?
  if [ -n "$added_policy" ]; then
    _ag_as_root rm -f "$policy"
  fi
  return "$rc"
}

# Print the path of a working Python 3.13 (mongoeco needs >= 3.13). A pyenv
# shim named python3.13 can exist yet fail, so every candidate is run.
_ag_find_python313() {
  local candidate
  local check='import sys; sys.exit(0 if sys.version_info[:2] == (3, 13) else 1)'
  if command -v python >/dev/null 2>&1 \
    && PYENV_VERSION=3.13.0 python -c "$check" >/dev/null 2>&1; then
    PYENV_VERSION=3.13.0 python -c 'import sys; print(sys.executable)'
    return 0
  fi
  for candidate in python3.13 \
    "${PYENV_ROOT:-${HOME:-/root}/.pyenv}"/versions/3.13*/bin/python3.13 \
    /usr/local/bin/python3.13 /usr/bin/python3.13; do
    if "$candidate" -c "$check" >/dev/null 2>&1; then
      "$candidate" -c 'import sys; print(sys.executable)'
      return 0
    fi
  done
  return 1
}

# ensure_mongoeco_venv: .venv-mongoeco/ in the repo root with mongoeco (the
# MongoDB stand-in the tests talk to), PyJWT (cross-checks our JWTs) and
# Selenium (the browser test).
# Exports AUTHGATE_TEST_PYTHON, the venv's python.
ensure_mongoeco_venv() {
  local venv="$AUTHGATE_ROOT/.venv-mongoeco"
  local py="$venv/bin/python"
  # Fast path (~0.1 s): metadata lookups only, no heavy imports.
  local check='import importlib.metadata as m
v = m.version
assert v("mongoeco") == "4.11.0", v("mongoeco")
assert v("PyJWT").startswith("2."), v("PyJWT")
assert v("selenium") == "4.51.0", v("selenium")
v("pymongo")  # brought by the [wire] extra; mongoeco.wire needs its bson'
  if [ -x "$py" ] && "$py" -c "$check" >/dev/null 2>&1; then
    export AUTHGATE_TEST_PYTHON="$py"
    return 0
  fi
  # A venv whose base interpreter went away cannot be repaired: recreate.
  if [ -e "$venv" ] && ! "$py" -c 'import sys' >/dev/null 2>&1; then
    _ag_log "removing broken venv $venv"
    rm -rf "$venv"
  fi
  if [ ! -x "$py" ]; then
    local base
    if ! base="$(_ag_find_python313)"; then
      _ag_log "Python 3.13 not found (tried PYENV_VERSION=3.13.0 python, python3.13, pyenv versions)"
      return 1
    fi
    _ag_log "creating $venv with $base"
    "$base" -m venv "$venv"
  fi
  _ag_log "installing $AUTHGATE_MONGOECO_SPEC $AUTHGATE_PYJWT_SPEC $AUTHGATE_SELENIUM_SPEC into $venv"
  "$py" -m pip install --disable-pip-version-check -q \
    "$AUTHGATE_MONGOECO_SPEC" "$AUTHGATE_PYJWT_SPEC" "$AUTHGATE_SELENIUM_SPEC"
  "$py" -c "$check"
  export AUTHGATE_TEST_PYTHON="$py"
}

# --- cleanup on exit ---------------------------------------------------------
# Callers may have their own EXIT trap; collect our cleanups in one list run
# by one trap instead of overwriting theirs.
_AG_CLEANUPS=()
_ag_run_cleanups() {
  local i
  for ((i = ${#_AG_CLEANUPS[@]} - 1; i >= 0; i--)); do
    eval "${_AG_CLEANUPS[$i]}" || true
  done
  _AG_CLEANUPS=()
}
_ag_on_exit() {
  local existing
  _AG_CLEANUPS+=("$1")
  if [ -z "${_AG_TRAPS_SET:-}" ]; then
    existing="$(trap -p EXIT)"
    if [ -n "$existing" ]; then
      _ag_log "note: replacing existing EXIT trap: $existing"
    fi
    trap '_ag_run_cleanups' EXIT
    # A signal must still run the cleanups, then exit with the usual code.
    trap '_ag_run_cleanups; trap - INT; kill -INT $$' INT
    trap '_ag_run_cleanups; exit 143' TERM
    _AG_TRAPS_SET=1
  fi
}

_ag_stop_pid() {
  local pid="$1" i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  # mongoeco closes its engine on SIGTERM; give it a moment, then insist.
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# start_mongoeco: run scripts/mongoeco-server.py (in-memory) on a free port in
# the background; export AUTHGATE_TEST_MONGODB_URI, AUTHGATE_TEST_MONGOECO_SCRIPT,
# AUTHGATE_MONGOECO_PID and AUTHGATE_MONGOECO_LOG; stop it when the shell exits.
# Needs AUTHGATE_TEST_PYTHON (ensure_mongoeco_venv).
start_mongoeco() {
  if [ -z "${AUTHGATE_TEST_PYTHON:-}" ]; then
    _ag_log "start_mongoeco: AUTHGATE_TEST_PYTHON unset; call ensure_mongoeco_venv first"
    return 1
  fi
  local script="$AUTHGATE_ROOT/scripts/mongoeco-server.py"
  local rundir log portfile pid port="" i
  rundir="$(mktemp -d "${TMPDIR:-/tmp}/authgate-mongoeco.XXXXXX")"
  # The log goes under .build/ (git-ignored) so it outlives this run.
  log="${AUTHGATE_MONGOECO_LOG:-$AUTHGATE_ROOT/.build/mongoeco.log}"
  mkdir -p "$(dirname "$log")"
  portfile="$rundir/port"
  # --port 0: the kernel picks a free port at bind time, so there is no
  # probe-then-bind race; the server reports it through the port file.
  "$AUTHGATE_TEST_PYTHON" "$script" --host 127.0.0.1 --port 0 \
    --port-file "$portfile" >"$log" 2>&1 </dev/null &
  pid=$!
  _ag_on_exit "_ag_stop_pid $pid; rm -rf '$rundir'"
  for ((i = 0; i < 300; i++)); do # ~30 s
    if [ -s "$portfile" ]; then
      port="$(tr -d '[:space:]' <"$portfile")"
      break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      _ag_log "mongoeco exited during startup; log $log:"
      cat "$log" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  if [ -z "$port" ]; then
    _ag_log "mongoeco did not report a port within 30 s; log $log:"
    cat "$log" >&2 || true
    return 1
  fi
  export AUTHGATE_TEST_MONGODB_URI="mongodb://127.0.0.1:$port/authgate_test"
  export AUTHGATE_TEST_MONGOECO_SCRIPT="$script"
  export AUTHGATE_MONGOECO_PID="$pid"
  export AUTHGATE_MONGOECO_LOG="$log"
  _ag_log "mongoeco (pid $pid) at $AUTHGATE_TEST_MONGODB_URI"
}
