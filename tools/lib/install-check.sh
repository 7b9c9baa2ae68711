#!/usr/bin/env bash
# Part of tools/package --check: tools/install and tools/uninstall, for real but in temporary
# directories (docs/operations.md, "Installing"):
#   1. --prefix /usr/local --destdir D, into a D that already holds a file of someone else's: the
#      manifest lists exactly the files and the directories made; the units run the installed
#      binaries and pass systemd-analyze verify --root (empty output); installing twice works;
#      tools/uninstall leaves D as it was, the other file and its directory included;
#   2. --user with HOME a new directory (no DESTDIR: the real per-user places): the programs,
#      man pages, completions and units where each looks, the user units pass
#      systemd-analyze --user verify; tools/uninstall leaves HOME as it was;
#   3. a file in the way that tools/install did not install is not overwritten.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/lib/layout.sh
say() { echo "tools/package --check (install): $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

work="$(mktemp -d /tmp/contacts-install-check-XXXXXX)"
trap 'rm -rf "$work"' EXIT

# Every path under DIR, with its type, for before/after comparisons.
tree() { (cd "$1" && find . -printf '%y %p\n' | sort); }

# 1. A staged system install next to a file of someone else's.
stage="$work/stage"
mkdir -p "$stage/usr/local/bin"
echo "not ours" > "$stage/usr/local/bin/other-tool"
tree "$stage" > "$work/stage-before"
tools/install --prefix /usr/local --destdir "$stage" >/dev/null 2>&1 || fail "tools/install --destdir failed"
manifest="$stage/usr/local/lib/contacts/install-manifest"
[ -f "$manifest" ] || fail "no manifest at $manifest"
# The manifest names every file and directory the install added, and nothing else.
sed -n 's/^file \([^ ]*\) .*/f .\1/p; s/^dir \(.*\)/d .\1/p' "$manifest" | sort > "$work/listed"
comm -13 "$work/stage-before" <(tree "$stage") | grep -v ' ./usr/local/lib/contacts/install-manifest$' > "$work/added"
diff "$work/listed" "$work/added" >/dev/null || fail "the manifest does not list exactly what was added:
$(diff "$work/listed" "$work/added")"
grep -q ' ./usr/local/bin$' "$work/listed" && fail "the manifest claims /usr/local/bin, which existed before"
for program in "${CONTACTS_PROGRAMS[@]}"; do
    for path in "usr/local/bin/$program" "usr/local/share/man/man1/$program.1.gz" \
        "usr/local/share/bash-completion/completions/$program" "usr/local/share/zsh/site-functions/_$program" \
        "usr/local/share/fish/vendor_completions.d/$program.fish"; do
        [ -s "$stage/$path" ] || fail "tools/install did not install /$path"
    done
done
grep -q '^ExecStart=/usr/local/bin/contactsd ' "$stage/usr/local/lib/systemd/system/contactsd.service" \
    || fail "the system unit does not run /usr/local/bin/contactsd"
grep -q '^ExecStart=/usr/local/bin/contactsd ' "$stage/usr/local/lib/systemd/user/contactsd.service" \
    || fail "the user unit does not run /usr/local/bin/contactsd"
PREFIX=/usr/local USER_MODE=0
contacts_layout
output="$(contacts_verify_staged_units "$stage" "$work/verify")"
[ -z "$output" ] || fail "systemd-analyze verify of the staged units: $output"
tools/install --prefix /usr/local --destdir "$stage" >/dev/null 2>&1 || fail "installing a second time failed"
tools/uninstall --prefix /usr/local --destdir "$stage" >/dev/null 2>&1 || fail "tools/uninstall --destdir failed"
diff "$work/stage-before" <(tree "$stage") >/dev/null || fail "tools/uninstall did not leave the stage as it was:
$(diff "$work/stage-before" <(tree "$stage"))"

# 2. A per-user install into a new home, for real.
# The build inside tools/install writes SwiftPM's own files to the home too: its caches (sent
# elsewhere) and an empty ~/.local/share/bin, made here first so the home is compared with that.
home="$work/home"
mkdir -m 0700 "$home"
mkdir -p "$home/.local/share/bin"
tree "$home" > "$work/home-before"
as_user=(env -u XDG_DATA_HOME -u XDG_CONFIG_HOME -u DESTDIR HOME="$home" XDG_CACHE_HOME="$work/cache")
"${as_user[@]}" tools/install --user >/dev/null 2>&1 || fail "tools/install --user failed"
for path in .local/bin/contacts .local/share/man/man1/contacts.1.gz .local/share/bash-completion/completions/contacts \
    .local/share/zsh/site-functions/_contacts .config/fish/completions/contacts.fish \
    .config/systemd/user/contactsd.socket .config/systemd/user/contactsd.service \
    .config/systemd/user/contacts-tasks.service .config/user-tmpfiles.d/contacts.conf; do
    [ -s "$home/$path" ] || fail "tools/install --user did not install ~/$path"
done
[ ! -e "$home/.config/systemd/system" ] || fail "tools/install --user installed system units"
grep -q "^ExecStart=$home/.local/bin/contactsd " "$home/.config/systemd/user/contactsd.service" \
    || fail "the user unit does not run ~/.local/bin/contactsd"
mkdir -m 0700 "$work/runtime"
output="$(for unit in "${CONTACTS_UNITS[@]}"; do
    HOME="$home" XDG_RUNTIME_DIR="$work/runtime" MANPATH="$home/.local/share/man" \
        systemd-analyze --user verify "$home/.config/systemd/user/$unit" 2>&1; done)"
[ -z "$output" ] || fail "systemd-analyze --user verify of the installed user units: $output"
HOME="$home" bash -c "source $home/.local/share/bash-completion/completions/contacts && complete -p contacts" >/dev/null \
    || fail "the installed bash completion does not load"
"${as_user[@]}" tools/uninstall --user >/dev/null 2>&1 || fail "tools/uninstall --user failed"
diff "$work/home-before" <(tree "$home") >/dev/null || fail "tools/uninstall --user did not leave the home as it was:
$(diff "$work/home-before" <(tree "$home"))"

# 3. A file in the way is not overwritten, and the failed install takes back what it did.
mkdir -p "$home/.local/bin"
echo "someone else's" > "$home/.local/bin/contacts"
if "${as_user[@]}" tools/install --user >/dev/null 2>&1; then fail "tools/install overwrote a file it had not installed"; fi
[ "$(cat "$home/.local/bin/contacts")" = "someone else's" ] || fail "tools/install changed a file it had not installed"
diff <({ cat "$work/home-before"; echo "d ./.local/bin"; echo "f ./.local/bin/contacts"; } | sort) <(tree "$home") >/dev/null \
    || fail "a failed tools/install did not take back what it did: $(cd "$home" && find . -mindepth 1 | tr '\n' ' ')"
say "passed: staged and per-user installs list exactly what they add, their units verify, uninstall leaves nothing"
