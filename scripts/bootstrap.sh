#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the benchmarks need.
# Idempotent: packages already installed are not touched, and `apt-get update`
# runs only when something is missing.
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ cmake ninja-build ccache make pkg-config python3 clang-format
  # libraries
  libboost1.81-dev libboost-json1.81-dev libssl-dev libc-ares-dev
  libsqlite3-dev libpq-dev libxxhash-dev liburing-dev libzstd-dev libexpected-dev
  libfmt-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  libxlsxwriter-dev libhowardhinnant-date-dev
  # test and runtime tools: the ssh transport is tested against a real sshd
  openssh-server openssh-client xxhash sqlite3 time procps curl
  # the command line's man pages and completions are checked with the real
  # man, bash and zsh (tests/cli/cli_surface_test.py)
  man-db zsh
  # the PostgreSQL backend's tests start a throw-away cluster (tests/support/pg.sh)
  postgresql
  # promtool checks and unit-tests packaging/prometheus-alerts.yml
  # (tests/package/monitoring_test.py); iproute2 brings up the loopback of
  # the static agent test's network namespace
  prometheus iproute2
)
# The console's browser tests (web/console/tests/run.sh installs these itself
# when missing; SMS_BOOTSTRAP_CONSOLE=1 installs them up front).
# Node.js may come from elsewhere (NodeSource bundles npm): ask for Debian's
# only when the commands are missing.
if [[ "${SMS_BOOTSTRAP_CONSOLE:-0}" == 1 ]]; then
  PACKAGES+=(chromium curl)
  command -v node >/dev/null || PACKAGES+=(nodejs)
  command -v npm >/dev/null || PACKAGES+=(npm)
fi
# `make package` (dpkg-shlibdeps, lintian) and `make package-test` (a Debian
# 12 root made by mmdebstrap).
if [[ "${SMS_BOOTSTRAP_PACKAGE:-0}" == 1 ]]; then
  PACKAGES+=(dpkg-dev lintian mmdebstrap)
fi
# `make fuzz` (fuzz/, docs/fuzzing.md): libFuzzer targets built with Debian's
# clang 14 under ASan+UBSan; libclang-rt-14-dev holds libFuzzer and the
# sanitizer runtimes. Only there: `make test` builds with g++ alone.
if [[ "${SMS_BOOTSTRAP_FUZZ:-0}" == 1 ]]; then
  PACKAGES+=(clang-14 libclang-rt-14-dev)
fi
if [[ "${SMS_BOOTSTRAP_BENCH:-0}" == 1 ]]; then
  PACKAGES+=(rsync rclone hashdeep b3sum wrk nginx-light hyperfine)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [[ $(id -u) != 0 ]]; then
  SUDO="sudo"
fi
echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Only promtool is wanted from the prometheus package: do not leave its
# server running (it starts on installation where systemd runs).
if [[ " ${missing[*]} " == *" prometheus "* && -d /run/systemd/system ]]; then
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
