#!/usr/bin/env bash
# Build the standalone Gearshift with PyInstaller: one folder with the `gearshift`
# executable, Python, Qt and the icons, which runs on a Linux machine with no Python.
#
#   bash packaging/build-standalone.sh
#
# The result is build/standalone/gearshift/; start build/standalone/gearshift/gearshift.
# It uses the PyInstaller in .venv (`.venv/bin/pip install -e ".[dev]"` installs it).
#
# A second run with nothing changed reuses the first build: a stamp records a hash of
# what goes into the bundle (app/, resources/, packaging/, pyproject.toml, and the
# packages installed in .venv), and the slow PyInstaller run is skipped while it matches.
# The last line of the output is the folder's unpacked size.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly VENV=.venv
readonly OUT=build/standalone
readonly BUNDLE="$OUT/gearshift"
readonly STAMP="$OUT/gearshift.stamp"

die() {
    printf 'build-standalone.sh: %s\n' "$*" >&2
    exit 1
}

# A hash of every input that can change the bundle. Build leftovers in the source folders
# (byte code, the egg-info an editable install writes) are not inputs. The venv's
# installed distributions count with their versions, so upgrading PySide6 rebuilds too.
input_hash() {
    {
        find app resources packaging pyproject.toml -type f \
            ! -path '*/__pycache__/*' ! -path '*.egg-info/*' ! -name '*.pyc' -print0 \
            | LC_ALL=C sort -z \
            | xargs -0 sha256sum
        "$VENV/bin/python" --version
        find "$VENV"/lib/python*/site-packages -maxdepth 1 -name '*.dist-info' -printf '%f\n' \
            | LC_ALL=C sort
    } | sha256sum | cut -d' ' -f1
}

# Total size of the folder's files in MB (10^6 bytes), as unpacked on disk; symbolic
# links count as nothing, since they add no data.
unpacked_mb() {
    find "$1" -type f -printf '%s\n' | awk '{ total += $1 } END { printf "%.1f\n", total / 1e6 }'
}

main() {
    [[ -x "$VENV/bin/pyinstaller" ]] \
        || die "$VENV/bin/pyinstaller is missing; install it with" \
            "$VENV/bin/pip install -e \".[dev]\""

    local wanted
    wanted=$(input_hash)
    if [[ -x "$BUNDLE/gearshift" && -f "$STAMP" && "$(<"$STAMP")" == "$wanted" ]]; then
        echo "reusing $BUNDLE: nothing that goes into it has changed"
    else
        # The stamp goes first, so a build that fails half way is never taken as done.
        rm -f "$STAMP"
        local started=$SECONDS
        echo "building $BUNDLE with PyInstaller $("$VENV/bin/pyinstaller" --version)"
        # Two warnings are expected: pyqtgraph.opengl needs PyOpenGL, which Gearshift does
        # not use, and Qt's gtk3 theme plugin links GTK, which is not bundled; the spec
        # drops that plugin after the analysis that warns about it.
        "$VENV/bin/pyinstaller" --noconfirm --log-level WARN \
            --distpath "$OUT" --workpath "$OUT/work" packaging/gearshift.spec
        printf '%s\n' "$wanted" >"$STAMP"
        echo "built in $((SECONDS - started)) s"
    fi

    echo "$BUNDLE: $(unpacked_mb "$BUNDLE") MB unpacked"
}

main "$@"
