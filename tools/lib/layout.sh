# Shared by tools/install, tools/uninstall and tools/package: where each installed file goes for a
# --prefix and --user, so the three never disagree.
# shellcheck shell=bash

# The programs installed, with their man page and shell completions.
CONTACTS_PROGRAMS=(contactsd contacts contacts-tasks)
# The systemd units, in dist/systemd/system and dist/systemd/user.
CONTACTS_UNITS=(contactsd.socket contactsd.service contacts-tasks.service)

# Sets the layout variables from PREFIX and USER_MODE (1 for --user): BINDIR, MANDIR, BASHCOMPDIR,
# ZSHCOMPDIR, FISHCOMPDIR, SYSTEMUNITDIR (empty for --user), USERUNITDIR, USERTMPFILESDIR,
# SYSUSERSDIR (empty for --user) and MANIFEST. Every path is the final one, without DESTDIR.
contacts_layout() {
    BINDIR="$PREFIX/bin"
    MANDIR="$PREFIX/share/man/man1"
    MANIFEST="$PREFIX/lib/contacts/install-manifest"
    if [ "$USER_MODE" = 1 ]; then
        local data="${XDG_DATA_HOME:-$HOME/.local/share}" config="${XDG_CONFIG_HOME:-$HOME/.config}"
        # bash-completion and systemd read the XDG data and config homes; zsh has no per-user
        # place, so _NAME goes where the zsh docs' examples put site functions (add it to $fpath);
        # fish reads ~/.config/fish/completions.
        BASHCOMPDIR="$data/bash-completion/completions"
        ZSHCOMPDIR="$data/zsh/site-functions"
        FISHCOMPDIR="$config/fish/completions"
        SYSTEMUNITDIR=""
        USERUNITDIR="$config/systemd/user"
        USERTMPFILESDIR="$config/user-tmpfiles.d"
        SYSUSERSDIR=""
        return
    fi
    BASHCOMPDIR="$PREFIX/share/bash-completion/completions"
    FISHCOMPDIR="$PREFIX/share/fish/vendor_completions.d"
    USERTMPFILESDIR="$PREFIX/share/user-tmpfiles.d"
    case "$PREFIX" in
        # Debian's zsh reads vendor-completions under /usr; under any other prefix site-functions
        # (on zsh's default $fpath for /usr/local). Debian 12 packages put units in /lib (the
        # /usr-merge moratorium); systemd also reads /usr/local/lib; any other prefix is not on
        # systemd's search path, so its units go to /etc.
        /usr)
            ZSHCOMPDIR="$PREFIX/share/zsh/vendor-completions"
            SYSTEMUNITDIR=/lib/systemd/system
            USERUNITDIR=/usr/lib/systemd/user
            SYSUSERSDIR=/usr/lib/sysusers.d ;;
        /usr/local)
            ZSHCOMPDIR="$PREFIX/share/zsh/site-functions"
            SYSTEMUNITDIR=/usr/local/lib/systemd/system
            USERUNITDIR=/usr/local/lib/systemd/user
            SYSUSERSDIR=/usr/local/lib/sysusers.d ;;
        *)
            ZSHCOMPDIR="$PREFIX/share/zsh/site-functions"
            SYSTEMUNITDIR=/etc/systemd/system
            USERUNITDIR=/etc/systemd/user
            SYSUSERSDIR=/etc/sysusers.d ;;
    esac
}

# Parses the options tools/install and tools/uninstall share: --prefix, --user, --destdir (or
# $DESTDIR). Sets PREFIX, USER_MODE, DESTDIR and REST (the other arguments).
contacts_parse_install_options() {
    PREFIX="" USER_MODE=0 DESTDIR="${DESTDIR:-}" REST=()
    while [ $# -gt 0 ]; do
        case "$1" in
            --prefix) [ $# -ge 2 ] || { echo "$0: --prefix needs a directory" >&2; exit 2; }; PREFIX="$2"; shift 2 ;;
            --prefix=*) PREFIX="${1#--prefix=}"; shift ;;
            --destdir) [ $# -ge 2 ] || { echo "$0: --destdir needs a directory" >&2; exit 2; }; DESTDIR="$2"; shift 2 ;;
            --destdir=*) DESTDIR="${1#--destdir=}"; shift ;;
            --user) USER_MODE=1; shift ;;
            *) REST+=("$1"); shift ;;
        esac
    done
    if [ -z "$PREFIX" ]; then
        if [ "$USER_MODE" = 1 ]; then PREFIX="$HOME/.local"; else PREFIX=/usr/local; fi
    fi
    case "$PREFIX" in /*) ;; *) echo "$0: --prefix must be an absolute path" >&2; exit 2 ;; esac
    PREFIX="${PREFIX%/}"
    [ -n "$PREFIX" ] || PREFIX=/
    if [ -n "$DESTDIR" ]; then
        mkdir -p "$DESTDIR"
        DESTDIR="$(cd "$DESTDIR" && pwd)"
    fi
    contacts_layout
}

# True where systemd is the running init (the test sd_booted() makes).
systemd_is_running() { [ -d /run/systemd/system ]; }

# Prints what systemd-analyze verify --root says of the system units installed under STAGE, in
# SYSTEMUNITDIR (nothing when they are sound). verify needs systemd's own units (sysinit.target,
# ...) in the root too, so it runs on the copy SCRATCH of STAGE with them added; the units'
# Documentation= man pages are found in STAGE.
contacts_verify_staged_units() {
    local stage="$1" scratch="$2" unit
    mkdir -p "$scratch/lib/systemd/system"
    cp -a "$stage/." "$scratch/"
    rm -rf "$scratch/DEBIAN"
    cp -an /lib/systemd/system/. "$scratch/lib/systemd/system/"
    for unit in "${CONTACTS_UNITS[@]}"; do
        (cd "$scratch" && MANPATH="$scratch${MANDIR%/man1}" systemd-analyze verify --root="$scratch" "$unit" 2>&1)
    done
}
