# Shared by tools/install and tools/uninstall: the install manifest, one line per thing installed,
#   file PATH SHA256     a file tools/install wrote
#   dir PATH             a directory tools/install created (it did not exist before)
# in the order they were made. Paths are final ones (without DESTDIR); the manifest itself is
# $MANIFEST and is not listed in it.
# shellcheck shell=bash

# Removes what the list LIST (a manifest, or the part of one written before a failed install)
# names, under $DESTDIR: each file still as installed (a file changed since is kept, with a
# warning), then each directory it created, deepest first, if empty. LIST itself is removed first,
# since it may lie in one of those directories.
contacts_remove_listed() {
    local list="$1" kind path sum files=() sums=() dirs=()
    while read -r kind path sum; do
        case "$kind" in
            file) files+=("$path"); sums+=("$sum") ;;
            dir) dirs+=("$path") ;;
        esac
    done < "$list"
    rm -f "$list"
    local i
    for ((i = 0; i < ${#files[@]}; i++)); do
        path="$DESTDIR${files[i]}"
        [ -e "$path" ] || [ -L "$path" ] || continue
        if [ "$(sha256sum < "$path" | cut -d' ' -f1)" != "${sums[i]}" ]; then
            echo "$0: kept $path: changed since it was installed" >&2
            continue
        fi
        rm -f "$path"
    done
    for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
        rmdir "$DESTDIR${dirs[i]}" 2>/dev/null || true
    done
}

# Removes the install whose manifest is $DESTDIR$MANIFEST.
contacts_remove_manifest() {
    if [ ! -f "$DESTDIR$MANIFEST" ]; then
        echo "$0: nothing installed here (no $DESTDIR$MANIFEST)" >&2
        return 1
    fi
    contacts_remove_listed "$DESTDIR$MANIFEST"
}
