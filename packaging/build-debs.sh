#!/usr/bin/env bash
# Builds the Debian packages of sms-consistency from a build directory:
#   OUT_DIR/sms-agent_VERSION_amd64.deb   /usr/bin/sms-agent, the static agent
#                                         for targets, the sms-agent service,
#                                         /etc/sms-agent/agent.conf (0600),
#                                         its man page and completions
#   OUT_DIR/sms-server_VERSION_amd64.deb  /usr/bin/sms-server, the console, the
#                                         sms-server service, the `sms` user,
#                                         /etc/sms-server/config.json (0640),
#                                         its man page and completions
# then runs lintian on both when it is installed (errors fail the build).
#
# usage: packaging/build-debs.sh BUILD_DIR OUT_DIR
#   env: SMS_DEB_MAINTAINER  the Maintainer field
#        SOURCE_DATE_EPOCH   the changelog's date (default: the last commit's)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$HERE/.." && pwd -P)
[[ $# == 2 ]] || { echo "usage: $0 BUILD_DIR OUT_DIR" >&2; exit 2; }
BUILD=$(cd "$1" && pwd -P)
mkdir -p "$2"
OUT=$(cd "$2" && pwd -P)
VERSION=$(sed -n 's/^project(sms_consistency VERSION \([0-9.]*\).*/\1/p' "$REPO/CMakeLists.txt")
MAINTAINER=${SMS_DEB_MAINTAINER:-sms-consistency developers <sms-consistency@lists.example.org>}
EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH=$EPOCH

for f in sms-agent sms-agent-static sms-server; do
  [[ -x "$BUILD/bin/$f" ]] || { echo "build-debs: $BUILD/bin/$f missing (make build)" >&2; exit 1; }
done
for f in man/man1/sms-agent.1 man/man1/sms-server.1 bash-completion/completions/sms-agent \
         bash-completion/completions/sms-server zsh/vendor-completions/_sms-agent \
         zsh/vendor-completions/_sms-server; do
  [[ -f "$BUILD/share/$f" ]] || { echo "build-debs: $BUILD/share/$f missing (make build)" >&2; exit 1; }
done
[[ -n "$VERSION" ]] || { echo "build-debs: no version in CMakeLists.txt" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sms-debs.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# doc PKG: copyright and the (native) changelog, as policy 12.5 and 12.7 ask.
doc() {
  local d="$WORK/$1/usr/share/doc/$1"
  install -d "$d"
  cat > "$d/copyright" <<EOT
sms-consistency: consistency verification of migrated servers.
Copyright 2026 the sms-consistency developers.
Source: the sms-consistency repository.
The project has not chosen its licence yet; until it does, no licence is
granted beyond what the law allows.
EOT
  printf '%s (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- %s  %s\n' \
    "$1" "$VERSION" "$VERSION" "$MAINTAINER" "$(date -R -u -d "@$EPOCH")" |
    gzip -9n > "$d/changelog.gz"
}

# unit FILE: a unit of packaging/ for /usr/bin, without its manual-install
# comment and its environment defaults (the package's config file has them).
unit() {
  echo "# Installed by the $(basename "$1" .service) package (packaging/build-debs.sh)."
  sed -e '1,/^\[Unit\]/{/^#/d}' -e 's|/usr/local/bin/|/usr/bin/|g' \
      -e '/^Environment=SMS_LISTEN=/d' -e '/^Environment=SMS_DB=/d' "$1"
}

# control PKG DEPENDS: DEBIAN/ with control, conffiles, md5sums, scripts.
control() {
  local pkg=$1 depends=$2 root="$WORK/$1"
  install -d -m 0755 "$root/DEBIAN"
  {
    echo "Package: $pkg"
    echo "Version: $VERSION"
    echo "Architecture: amd64"
    echo "Maintainer: $MAINTAINER"
    echo "Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)"
    echo "Depends: $depends"
    echo "Section: admin"
    echo "Priority: optional"
    cat "$HERE/deb/$pkg/description"
  } > "$root/DEBIAN/control"
  (cd "$root" && find etc -type f | sed 's|^|/|' | sort) > "$root/DEBIAN/conffiles"
  (cd "$root" && find usr lib -type f -print0 | sort -z | xargs -0 md5sum) \
    > "$root/DEBIAN/md5sums"
  for s in postinst prerm postrm; do
    install -m 0755 "$HERE/deb/$pkg/$s" "$root/DEBIAN/$s"
  done
}

# shlibs BINARY...: the Depends of the shared libraries they link.
shlibs() {
  local dir="$WORK/shlibs"
  mkdir -p "$dir/debian"
  printf 'Source: sms-consistency\n\nPackage: x\nArchitecture: amd64\n' > "$dir/debian/control"
  (cd "$dir" && dpkg-shlibdeps -O "$@" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
}

# cli_docs PKG PROGRAM: the man page and the bash and zsh completion that the
# build generated from PROGRAM's option definitions (src/cli/cli_docs.h).
cli_docs() {
  local root="$WORK/$1" p=$2
  install -d "$root/usr/share/man/man1"
  gzip -9n < "$BUILD/share/man/man1/$p.1" > "$root/usr/share/man/man1/$p.1.gz"
  install -D -m 0644 "$BUILD/share/bash-completion/completions/$p" \
    "$root/usr/share/bash-completion/completions/$p"
  install -D -m 0644 "$BUILD/share/zsh/vendor-completions/_$p" \
    "$root/usr/share/zsh/vendor-completions/_$p"
}

strip_into() {  # SRC DST
  install -D -m 0755 "$1" "$2"
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$2"
}

# ---- sms-agent ------------------------------------------------------------
A="$WORK/sms-agent"
strip_into "$BUILD/bin/sms-agent" "$A/usr/bin/sms-agent"
strip_into "$BUILD/bin/sms-agent-static" "$A/usr/libexec/sms-agent/sms-agent-static"
install -d "$A/lib/systemd/system"
unit "$HERE/sms-agent.service" > "$A/lib/systemd/system/sms-agent.service"
install -D -m 0600 "$HERE/deb/sms-agent/agent.conf" "$A/etc/sms-agent/agent.conf"
cli_docs sms-agent sms-agent
doc sms-agent
control sms-agent "$(shlibs "$A/usr/bin/sms-agent")"

# ---- sms-server -----------------------------------------------------------
S="$WORK/sms-server"
strip_into "$BUILD/bin/sms-server" "$S/usr/bin/sms-server"
install -d "$S/usr/share/sms-server/console"
(cd "$REPO/web/console" && find index.html favicon.svg css js -type f) |
  while read -r f; do
    install -D -m 0644 "$REPO/web/console/$f" "$S/usr/share/sms-server/console/$f"
  done
install -d "$S/lib/systemd/system"
unit "$HERE/sms-server.service" |
  sed 's|^ExecStart=/usr/bin/sms-server serve$|ExecStart=/usr/bin/sms-server serve --config /etc/sms-server/config.json|' \
  > "$S/lib/systemd/system/sms-server.service"
grep -q -- '--config /etc/sms-server/config.json' "$S/lib/systemd/system/sms-server.service" ||
  { echo "build-debs: sms-server.service has no plain ExecStart to rewrite" >&2; exit 1; }
install -D -m 0640 "$HERE/deb/sms-server/config.json" "$S/etc/sms-server/config.json"
cli_docs sms-server sms-server
doc sms-server
control sms-server "adduser, $(shlibs "$S/usr/bin/sms-server")"

for pkg in sms-agent sms-server; do
  find "$WORK/$pkg" -type d -exec chmod 0755 {} +
  find "$WORK/$pkg" -exec touch --no-dereference -d "@$EPOCH" {} +
  dpkg-deb --root-owner-group -Zxz --build "$WORK/$pkg" \
    "$OUT/${pkg}_${VERSION}_amd64.deb" >/dev/null
  echo "$OUT/${pkg}_${VERSION}_amd64.deb"
done

if command -v lintian >/dev/null; then
  lintian --fail-on error --suppress-tags-from-file /dev/null \
    "$OUT/sms-agent_${VERSION}_amd64.deb" "$OUT/sms-server_${VERSION}_amd64.deb"
else
  echo "build-debs: lintian is not installed: not checked" >&2
fi
