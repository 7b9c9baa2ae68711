# Shared by tools/run and tools/test: install the system packages the build and the tests need,
# only those missing, so a fresh Debian machine needs nothing done by hand.
# shellcheck shell=bash

# systemd: for systemd-socket-activate (the socket-activation tests) and systemd-analyze. Installing
# it where systemd is not PID 1 (a container) adds the tools, /etc/machine-id and a few system
# users; its maintainer scripts start and restart nothing there (they check /run/systemd/system).
# Without recommends: systemd's (dbus, systemd-timesyncd) are daemons the tests do not need, and
# no other package here recommends anything.
CONTACTS_APT_PACKAGES=(libsqlite3-dev libhiredis-dev redis-server socat netcat-openbsd pkg-config faketime sqlite3 systemd)
# tools/package and its check only (lintian alone brings about 150 Perl packages, so the build and
# the rest of the tests do not install these): dpkg-shlibdeps, lintian, man for the man pages and
# the units' Documentation=, adduser for the package's postinst.
CONTACTS_PACKAGING_APT_PACKAGES=(dpkg-dev lintian man-db adduser)

# Installs the missing ones of the packages named, or of CONTACTS_APT_PACKAGES.
install_missing_packages() {
    local missing=() wanted=("$@")
    [ $# -gt 0 ] || wanted=("${CONTACTS_APT_PACKAGES[@]}")
    for pkg in "${wanted[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$pkg")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}" >&2
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

require_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        if [ -x /opt/swift/usr/bin/swift ]; then
            export PATH="/opt/swift/usr/bin:$PATH"
        else
            echo "swift is not on PATH: install Swift 6.x (https://swift.org/install)" >&2
            exit 1
        fi
    fi
}
