#!/usr/bin/env bash
# tools/package --check DEB: the Debian package installed on this machine for real, as root, and
# taken off again (docs/operations.md, "The Debian package"):
#   1. a snapshot of what the package could touch: the paths under /usr, /etc, /var/lib and
#      /run/contacts, and the users and groups (with their members);
#   2. dpkg -i: the contacts user and group, /var/lib/contacts (contacts, 0700), the programs,
#      man pages that list every flag of --help, the completions, the units (systemd-analyze
#      verify of the installed tree: empty output), and no unit enabled (systemd does not run);
#      installed again (an upgrade's path through the maintainer scripts), the user kept;
#   3. contactsd started as contactsd.socket and contactsd.service would start it: by
#      systemd-socket-activate as the contacts user (setpriv), on /run/contacts/contactsd.sock
#      (contacts:contacts, 0660), with the unit's ExecStart= and a $NOTIFY_SOCKET that must hear
#      READY=1; `contacts ping` with no --socket as root (the per-user socket missing: the system
#      one), as a member of the contacts group, and refused to anyone else; a contact created;
#      SIGTERM: STOPPING=1, and the socket systemd would hold is still there;
#   4. dpkg -r: the programs gone; /var/lib/contacts (the contact in it) and the user stay;
#   5. dpkg -P: /var/lib/contacts, /run/contacts, the user and the group gone;
#   6. the snapshot again: nothing else added or removed.
# It refuses to run where the package, a contacts user or group, /var/lib/contacts or
# /run/contacts already exist (purging would delete them), and on any failure it purges what it
# installed (a trap).
set -euo pipefail
deb="$(realpath "$1")"
say() { echo "tools/package --check: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "must run as root (it installs the package for real)"
if dpkg-query -W contacts >/dev/null 2>&1; then fail "a contacts package is known to dpkg here; not touching it"; fi
if getent passwd contacts >/dev/null || getent group contacts >/dev/null; then fail "a contacts user or group exists here; not touching it"; fi
for path in /var/lib/contacts /run/contacts; do
    if [ -e "$path" ]; then fail "$path exists here; not touching it"; fi
done

work="$(mktemp -d /tmp/contacts-package-check-XXXXXX)"
chmod 0711 "$work"
server_pid="" notify_pid="" passed=0
cleanup() {
    [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null || true
    [ -n "$notify_pid" ] && kill "$notify_pid" 2>/dev/null || true
    if [ "$passed" = 0 ]; then
        say "cleaning up after the failure"
        [ -f "$work/server.log" ] && sed 's/^/  server: /' "$work/server.log" >&2
        [ -f "$work/notify.log" ] && sed "s/^/  notify: /" "$work/notify.log" >&2
        if dpkg-query -W contacts >/dev/null 2>&1; then dpkg -P contacts >/dev/null 2>&1 || true; fi
        # Refused above if any of these existed before: they are the check's own.
        rm -rf /var/lib/contacts /run/contacts
        getent passwd contacts >/dev/null && userdel contacts 2>/dev/null
        getent group contacts >/dev/null && groupdel contacts 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# What is not the package's doing and changes anyway: dpkg's and apt's own records (the
# package's files under /var/lib/dpkg/info stay in), Redis's dump, ldconfig's cache.
snapshot() {
    {
        find /usr /etc /var/lib /run/contacts -xdev 2>/dev/null \
            | grep -Ev '^/var/lib/dpkg/(status|available|lock|triggers|updates|diversions|statoverride|cmethopt)|^/var/lib/(apt|redis|systemd/timesync|ucf)(/|$)|^/etc/ld\.so\.cache$' || true
        getent passwd | cut -d: -f1,3,4,6,7 | sed 's/^/user /'
        getent group | cut -d: -f1,3,4 | sed 's/^/group /'
    } | sort
}
snapshot > "$work/before"

export DEBIAN_FRONTEND=noninteractive
say "dpkg -i $(basename "$deb")"
dpkg -i "$deb" >/dev/null

# 2. What the installed package holds.
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd contacts) || fail "no contacts user after dpkg -i"
[ "$(getent group contacts | cut -d: -f3)" = "$gid" ] || fail "the contacts user's group is not contacts"
[ "$uid" -lt 1000 ] && [ "$home" = /var/lib/contacts ] && [ "$shell" = /usr/sbin/nologin ] \
    || fail "the contacts user is not a system user at home in /var/lib/contacts without a shell ($uid $home $shell)"
[ "$(stat -c '%U:%G %a' /var/lib/contacts)" = "contacts:contacts 700" ] || fail "/var/lib/contacts is $(stat -c '%U:%G %a' /var/lib/contacts)"
version="$(dpkg-deb -f "$deb" Version)"
[ "$(/usr/bin/contacts --version)" = "$version" ] || fail "contacts --version is not $version"
for program in contactsd contacts contacts-tasks; do
    page="$(man -w "$program")" || fail "no man page for $program"
    [ "$page" = "/usr/share/man/man1/$program.1.gz" ] || fail "man -w $program gives $page"
    # The page is generated from the binary: it names every flag --help names.
    MANWIDTH=200 man -l "$page" 2>/dev/null | grep -oE -- '--[a-z][a-z-]+' | sort -u > "$work/man-flags"
    "/usr/bin/$program" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u > "$work/help-flags"
    missing="$(comm -13 "$work/man-flags" "$work/help-flags" | tr '\n' ' ')"
    [ -z "$missing" ] || fail "the man page of $program lacks $missing"
    bash -c "source /usr/share/bash-completion/completions/$program && complete -p $program" >/dev/null \
        || fail "the bash completion of $program does not load"
    [ -s "/usr/share/zsh/vendor-completions/_$program" ] && [ -s "/usr/share/fish/vendor_completions.d/$program.fish" ] \
        || fail "no zsh or fish completion for $program"
done
verify="$(for unit in /lib/systemd/system/contactsd.socket /lib/systemd/system/contactsd.service /lib/systemd/system/contacts-tasks.service; do
    systemd-analyze verify "$unit" 2>&1; done)"
[ -z "$verify" ] || fail "systemd-analyze verify of the installed system units: $verify"
mkdir -m 0700 "$work/xdg-runtime"
verify="$(for unit in /usr/lib/systemd/user/contactsd.socket /usr/lib/systemd/user/contactsd.service /usr/lib/systemd/user/contacts-tasks.service; do
    XDG_RUNTIME_DIR="$work/xdg-runtime" systemd-analyze --user verify "$unit" 2>&1; done)"
[ -z "$verify" ] || fail "systemd-analyze --user verify of the installed user units: $verify"
if [ ! -d /run/systemd/system ] && [ -e /etc/systemd/system/sockets.target.wants/contactsd.socket ]; then
    fail "the postinst enabled contactsd.socket where systemd does not run"
fi

# An upgrade (here: the same version again) keeps the user and the state directory as they are.
dpkg -i "$deb" >/dev/null
[ "$(getent passwd contacts | cut -d: -f3,4)" = "$uid:$gid" ] || fail "installing again changed the contacts user"
[ "$(stat -c '%U:%G %a' /var/lib/contacts)" = "contacts:contacts 700" ] || fail "installing again changed /var/lib/contacts"

# 3. A socket-activated server, as systemd would start it. systemd would create /run/contacts as
# root and chown the socket; systemd-socket-activate binds it as the contacts user instead, so the
# directory is theirs, and the socket's mode is set as SocketMode= would (before any client).
install -d -o contacts -g contacts -m 0755 /run/contacts
# socat writes the datagrams one after the other, without separators: look for substrings.
socat -u UNIX-RECV:"$work/notify" OPEN:"$work/notify.log",creat,append &
notify_pid=$!
for _ in $(seq 50); do [ -S "$work/notify" ] && break; sleep 0.1; done
chmod 0666 "$work/notify"
read -r -a exec_start < <(sed -n 's/^ExecStart=//p' /lib/systemd/system/contactsd.service)
watchdog_usec=$(( $(sed -n 's/^WatchdogSec=\([0-9]*\)s$/\1/p' /lib/systemd/system/contactsd.service) * 1000000 ))
(
    exec setpriv --reuid=contacts --regid=contacts --init-groups \
        systemd-socket-activate -l /run/contacts/contactsd.sock \
        -E NOTIFY_SOCKET="$work/notify" -E WATCHDOG_USEC="$watchdog_usec" "${exec_start[@]}"
) > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do [ -S /run/contacts/contactsd.sock ] && break; sleep 0.1; done
[ -S /run/contacts/contactsd.sock ] || fail "no socket at /run/contacts/contactsd.sock"
chmod "$(sed -n 's/^SocketMode=//p' /lib/systemd/system/contactsd.socket)" /run/contacts/contactsd.sock
[ "$(stat -c '%U:%G %a' /run/contacts/contactsd.sock)" = "contacts:contacts 660" ] \
    || fail "the socket is $(stat -c '%U:%G %a' /run/contacts/contactsd.sock), not contacts:contacts 660"

# As root, with no per-user socket (and no --socket, no CONTACTS_SOCKET): the system socket.
mkdir -m 0700 "$work/root-runtime"
as_root=(env -u CONTACTS_SOCKET XDG_RUNTIME_DIR="$work/root-runtime")
pong="$("${as_root[@]}" /usr/bin/contacts --timeout 10s ping)" || fail "contacts ping (as root, no --socket) failed: $pong"
case "$pong" in "pong from contactsd $version"*) ;; *) fail "contacts ping answered: $pong" ;; esac
say "$pong (as root, through the system socket)"
for _ in $(seq 100); do grep -q 'READY=1' "$work/notify.log" 2>/dev/null && break; sleep 0.1; done
grep -q 'READY=1' "$work/notify.log" || fail "no READY=1 on \$NOTIFY_SOCKET"
# A member of the contacts group is served; anyone else cannot even connect (mode 0660).
as_member=(setpriv --reuid=nobody --regid=contacts --clear-groups env -u CONTACTS_SOCKET -u XDG_RUNTIME_DIR)
"${as_member[@]}" /usr/bin/contacts --socket /run/contacts/contactsd.sock ping >/dev/null \
    || fail "a member of the contacts group is not served"
if setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/contacts --socket /run/contacts/contactsd.sock ping >/dev/null 2>&1; then
    fail "a user outside the contacts group was served"
fi
"${as_root[@]}" /usr/bin/contacts create ada --first Ada --last Lovelace --email ada@example.com >/dev/null \
    || fail "contacts create through the system socket failed"
kill -TERM "$server_pid"
for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$server_pid" 2>/dev/null; then fail "contactsd did not stop within 10 s of SIGTERM"; fi
wait "$server_pid" || fail "contactsd exited with status $? after SIGTERM"
server_pid=""
grep -q 'STOPPING=1' "$work/notify.log" || fail "no STOPPING=1 on \$NOTIFY_SOCKET"
[ -S /run/contacts/contactsd.sock ] || fail "contactsd removed the socket it was handed"
kill "$notify_pid" 2>/dev/null || true
wait "$notify_pid" 2>/dev/null || true
notify_pid=""

# 4. Remove: the programs go, the data and the user stay.
say "dpkg -r contacts"
dpkg -r contacts >/dev/null
for path in /usr/bin/contactsd /usr/bin/contacts /usr/bin/contacts-tasks /lib/systemd/system/contactsd.service \
    /usr/share/man/man1/contactsd.1.gz; do
    [ ! -e "$path" ] || fail "$path is still there after dpkg -r"
done
getent passwd contacts >/dev/null && getent group contacts >/dev/null || fail "dpkg -r removed the contacts user or group"
[ "$(sqlite3 -readonly /var/lib/contacts/contacts.db "SELECT count(*) FROM contacts WHERE username = 'ada'")" = 1 ] \
    || fail "dpkg -r did not keep /var/lib/contacts/contacts.db and its contacts"

# 5. Purge: the data, the socket directory and the user go too.
say "dpkg -P contacts"
dpkg -P contacts >/dev/null
for path in /var/lib/contacts /run/contacts; do
    [ ! -e "$path" ] || fail "$path is still there after dpkg -P"
done
if getent passwd contacts >/dev/null || getent group contacts >/dev/null; then fail "dpkg -P left the contacts user or group"; fi
if dpkg-query -W contacts >/dev/null 2>&1; then fail "dpkg still knows the contacts package after dpkg -P"; fi

# 6. Nothing else left behind, nothing taken away.
snapshot > "$work/after"
if ! diff "$work/before" "$work/after" > "$work/diff"; then
    fail "the machine differs from before dpkg -i (< before, > after):
$(cat "$work/diff")"
fi
passed=1
say "passed: installed, served a socket-activated ping without --socket, removed (data and user kept), purged (both gone), nothing left behind"
