#!/usr/bin/env bash
# Put Gearshift's desktop entry, AppStream metainfo and hicolor icons where desktops
# look for them, or take them away again.
#
#   bash packaging/install-desktop.sh [--prefix DIR] [--exec COMMAND] [--helper PATH]
#   bash packaging/install-desktop.sh [--prefix DIR] --uninstall        remove
#
# DIR defaults to /usr/local as root and ~/.local otherwise. COMMAND is what the menu
# entry runs (default: gearshift); give the full path for a virtual environment or a
# standalone build that is not on PATH. PATH is the privileged gearshift-helper that the
# polkit policy (DIR/share/polkit-1/actions) lets pkexec start (default: beside COMMAND,
# else the one on PATH); polkit reads policies from /usr/share/polkit-1/actions only, so
# for the prompt to name Gearshift install as root with --prefix /usr, or link the file
# there. The helper must be owned by root and not writable by the user: pkexec runs it
# as root. Every file written is listed in
# DIR/share/gearshift/installed-files, and --uninstall removes exactly those, so nothing
# is left behind and nothing else is touched.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly APP_ID=io.github.gearshift.Gearshift
readonly EXIT_USAGE=64

usage() {
    echo "usage: bash packaging/install-desktop.sh [--prefix DIR] [--exec COMMAND]" \
        "[--uninstall]" >&2
    exit "$EXIT_USAGE"
}

if ((EUID == 0)); then prefix=/usr/local; else prefix="$HOME/.local"; fi
exec_command=gearshift
helper=""
mode=install
while (($#)); do
    case "$1" in
        --prefix) (($# >= 2)) || usage; prefix=$2; shift 2 ;;
        --exec) (($# >= 2)) || usage; exec_command=$2; shift 2 ;;
        --helper) (($# >= 2)) || usage; helper=$2; shift 2 ;;
        --uninstall) mode=uninstall; shift ;;
        *) usage ;;
    esac
done

if [[ -z $exec_command || $exec_command == *$'\n'* ]]; then
    echo "--exec: give the program to run as one line, for example /opt/gearshift/gearshift" >&2
    exit "$EXIT_USAGE"
fi
if [[ -z $prefix ]]; then
    echo "--prefix: give a folder, for example ~/.local" >&2
    exit "$EXIT_USAGE"
fi

share="$prefix/share"

if [[ -z $helper ]]; then
    if [[ $exec_command == */* ]]; then
        helper="$(dirname "$exec_command")/gearshift-helper"
    else
        helper=$(command -v gearshift-helper || echo /usr/local/bin/gearshift-helper)
    fi
fi
if [[ $helper != /* || $helper == *[[:cntrl:]]* ]]; then
    echo "--helper: give the helper's absolute path, on one line" >&2
    exit "$EXIT_USAGE"
fi

# The Exec key's form of one argument: quoted when it holds a reserved character, with
# the four characters that stay special inside quotes escaped, and % doubled.
desktop_exec_argument() {
    local argument=${1//%/%%}
    local reserved='[[:space:]"'"'"'\\><~|&;$*?#()`]'
    if [[ $argument =~ $reserved ]]; then
        argument=${argument//\\/\\\\}
        argument=${argument//\"/\\\"}
        argument=${argument//\`/\\\`}
        argument=${argument//\$/\\\$}
        argument="\"$argument\""
    fi
    printf '%s' "$argument"
}

# A value of the desktop file's string type: backslashes escaped.
desktop_string() {
    printf '%s' "${1//\\/\\\\}"
}
manifest="$share/gearshift/installed-files"

# Desktops cache icon lists and menu entries; refresh the caches where the tools exist.
refresh_caches() {
    if command -v gtk-update-icon-cache >/dev/null && [[ -f "$share/icons/hicolor/index.theme" ]]
    then
        gtk-update-icon-cache -q -t -f "$share/icons/hicolor" || true
    fi
    if command -v update-desktop-database >/dev/null; then
        update-desktop-database -q "$share/applications" 2>/dev/null || true
    fi
}

# Copy one file into place and record it in the manifest.
place() {
    local source=$1 target=$2
    install -D -m 0644 "$source" "$target"
    printf '%s\n' "$target" >>"$manifest.new"
}

install_files() {
    mkdir -p "$(dirname "$manifest")"
    : >"$manifest.new"

    local entry line exec_value tryexec_value
    entry=$(mktemp)
    trap 'rm -f "$entry"' RETURN
    # Exec and TryExec name the program the menu entry runs, written with the quoting
    # and escaping rules of the Desktop Entry Specification so that any path works.
    exec_value=$(desktop_string "$(desktop_exec_argument "$exec_command")")
    tryexec_value=$(desktop_string "$exec_command")
    while IFS= read -r line; do
        case "$line" in
            Exec=*) line="Exec=$exec_value" ;;
            TryExec=*) line="TryExec=$tryexec_value" ;;
        esac
        printf '%s\n' "$line"
    done <"$here/gearshift.desktop" >"$entry"
    place "$entry" "$share/applications/gearshift.desktop"
    place "$here/$APP_ID.metainfo.xml" "$share/metainfo/$APP_ID.metainfo.xml"

    # The polkit policy names the helper's exact path, which pkexec compares.
    local policy helper_xml
    policy=$(mktemp)
    helper_xml=$(printf '%s' "$helper" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' \
        -e 's/>/\&gt;/g' -e 's/"/\&quot;/g' -e "s/'/\\&apos;/g")
    while IFS= read -r line; do
        if [[ $line == *@HELPER@* ]]; then
            line="${line%%@HELPER@*}$helper_xml${line#*@HELPER@}"
        fi
        printf '%s\n' "$line"
    done <"$here/io.github.gearshift.helper.policy" >"$policy"
    place "$policy" "$share/polkit-1/actions/io.github.gearshift.helper.policy"
    rm -f "$policy"

    local icon
    while IFS= read -r -d '' icon; do
        place "$icon" "$share/icons/hicolor/${icon#"$here/icons/hicolor/"}"
    done < <(find "$here/icons/hicolor" -type f -print0 | sort -z)

    mv "$manifest.new" "$manifest"
    refresh_caches
    echo "installed $(wc -l <"$manifest") files under $share (list: $manifest)"
}

# Remove the icon theme folders the uninstall left empty, never hicolor itself or
# anything above it, which other programs share.
remove_empty_icon_folders() {
    local folder=$1
    while [[ $folder == "$share/icons/hicolor/"* || $folder == "$share/polkit-1"* ]] \
        && rmdir -- "$folder" 2>/dev/null; do
        folder=$(dirname "$folder")
    done
}

uninstall_files() {
    if [[ ! -f "$manifest" ]]; then
        echo "nothing to uninstall: $manifest does not exist" >&2
        return 0
    fi
    local target count=0
    while IFS= read -r target; do
        if [[ -f "$target" ]]; then
            rm -f -- "$target"
            count=$((count + 1))
        fi
        remove_empty_icon_folders "$(dirname "$target")"
    done <"$manifest"
    rm -f -- "$manifest"
    rmdir --ignore-fail-on-non-empty "$(dirname "$manifest")" 2>/dev/null || true
    refresh_caches
    echo "removed $count files from $share"
}

if [[ $mode == install ]]; then install_files; else uninstall_files; fi
