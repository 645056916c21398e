#!/usr/bin/env bash
# Set up Gearshift on Debian 12 and either start it or test it.
#
#   bash scripts/setup.sh run [GEARSHIFT OPTIONS...]   install, then start the tray app
#   bash scripts/setup.sh test                         install, then run every check
#
# Run it as root (or as a user with sudo) on a bare Debian 12 machine. Everything it
# installs is checked first, so a second run on a ready machine skips straight to the
# work.
#
# `run` exits 69 with one line of advice when there is no display to show a tray on.
# `test` runs the static checks, the offscreen tests, then the real-X tests on a private
# Xvfb display with trayer as the system tray; it runs every stage even when one fails,
# names the failed stages at the end and exits 1 if there were any.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly VENV=.venv
readonly EXIT_NO_DISPLAY=69
readonly EXIT_USAGE=64

# What Qt needs from the system: the offscreen platform's libraries, then the ones the
# xcb (real X) platform adds. pynput builds evdev from source, hence gcc and headers;
# gcc only recommends libc6-dev, and recommends are not installed here.
readonly RUN_PACKAGES=(
    python3 python3-venv python3-dev gcc libc6-dev
    libglib2.0-0 libgl1 libegl1 libxkbcommon0 libfreetype6 libfontconfig1 libdbus-1-3
    libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
    libxcb-render-util0 libxcb-util1 libxcb-xkb1
)

# The real-X harness (X server, keymap compiler, input faker, window inspector, tray host,
# screenshots, a session bus), the desktop-entry validator, and what dbus-python needs to
# build from source for python-dbusmock.
readonly TEST_PACKAGES=(
    xvfb x11-xkb-utils xdotool x11-utils trayer imagemagick dbus
    desktop-file-utils appstream binutils
    pkg-config libdbus-1-dev libglib2.0-dev
)

heading() {
    printf '\n==> %s\n' "$*"
}

die() {
    printf 'setup.sh: %s\n' "$*" >&2
    exit 1
}

# Print the packages among "$@" that dpkg does not list as installed.
missing_packages() {
    local package
    for package in "$@"; do
        if ! dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null \
            | grep -qx 'install ok installed'; then
            printf '%s\n' "$package"
        fi
    done
}

install_packages() {
    local missing=()
    mapfile -t missing < <(missing_packages "$@")
    if ((${#missing[@]} == 0)); then
        echo "all ${#} system packages are already installed"
        return
    fi

    local as_root=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null || die "installing ${missing[*]} needs root; run as root"
        as_root=(sudo)
    fi

    # Package lists on a fresh machine are empty, so update before installing.
    echo "installing: ${missing[*]}"
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Create the virtual environment unless a working one is already there.
make_venv() {
    if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c '' 2>/dev/null; then
        echo "reusing $VENV ($("$VENV/bin/python" --version))"
        return
    fi
    python3 -m venv --clear "$VENV"
    echo "created $VENV ($("$VENV/bin/python" --version))"
}

# Install Gearshift into the venv in editable mode, so the working tree is what runs.
# A stamp records the pyproject.toml it was installed from and with which extras; when
# neither changed, pip is skipped. Editable installs pick up code changes by themselves.
install_gearshift() {
    local extras=$1
    local stamp="$VENV/.gearshift-installed"
    local wanted
    wanted="$(sha256sum pyproject.toml | cut -d' ' -f1) ${extras:-none}"

    if [[ -x "$VENV/bin/gearshift" && -f "$stamp" ]]; then
        local have
        have=$(<"$stamp")
        # A test install (more extras) also serves run, which needs no extras.
        if [[ "$have" == "$wanted" || ( -z "$extras" && "${have%% *}" == "${wanted%% *}" ) ]]
        then
            echo "gearshift is already installed from this pyproject.toml"
            return
        fi
    fi

    local target=.
    if [[ -n "$extras" ]]; then
        target=".[$extras]"
    fi
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$target"
    printf '%s\n' "$wanted" >"$stamp"
}

do_run() {
    heading "System packages"
    install_packages "${RUN_PACKAGES[@]}"
    heading "Virtual environment"
    make_venv
    install_gearshift ""

    # Check here rather than let Qt fail with a message about platform plugins.
    if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" ]]; then
        echo "gearshift: no display (neither DISPLAY nor WAYLAND_DISPLAY is set), so the" \
            "tray app cannot start; without one, use the headless commands," \
            "e.g. $VENV/bin/gearshift analyze FILE" >&2
        exit "$EXIT_NO_DISPLAY"
    fi

    heading "Starting Gearshift"
    exec "$VENV/bin/gearshift" "$@"
}

# ---- test mode ---------------------------------------------------------------------

# A test run that outlives this is hung: a test stuck inside Qt's C++ event loop never
# gives pytest-timeout's signal handler a chance to run.
readonly TEST_RUN_LIMIT_S=600

FAILED_STAGES=()
WORKDIR=""
CHILD_PID=""
XVFB_PID=""
TRAYER_PID=""

# Stop what this script started, whatever way it is leaving.
cleanup() {
    local pid
    for pid in "$CHILD_PID" "$TRAYER_PID" "$XVFB_PID"; do
        [[ -n "$pid" ]] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    CHILD_PID=""
    TRAYER_PID=""
    XVFB_PID=""
    if [[ -n "$WORKDIR" ]]; then
        rm -rf "$WORKDIR"
    fi
}

# Run one checking stage; a failure is remembered, and the next stage still runs.
stage() {
    local name=$1
    shift
    heading "$name"
    local status=0
    "$@" || status=$?
    if ((status != 0)); then
        FAILED_STAGES+=("$name (exit status $status)")
    fi
}

# Run a test command under a time limit, as a background child that this shell waits on.
# `timeout` puts the command in a process group of its own and passes a TERM on to all of
# it, so the app instances a test starts go too. Waiting with `wait` instead of running
# in the foreground lets a TERM or Ctrl+C reach the EXIT trap at once.
run_tests() {
    timeout --kill-after=15 "$TEST_RUN_LIMIT_S" "$@" &
    CHILD_PID=$!
    local status=0
    wait "$CHILD_PID" || status=$?
    CHILD_PID=""
    if ((status == 124)); then
        echo "stopped: still running after $TEST_RUN_LIMIT_S s" >&2
    fi
    return "$status"
}

# Poll a command until it succeeds, for at most $1 seconds.
wait_for() {
    local timeout_s=$1
    shift
    local deadline=$((SECONDS + timeout_s))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

static_checks() {
    # bench/ may be absent in a fresh clone while it is empty: git keeps no empty folders.
    local folders=() folder status=0
    for folder in app tests bench; do
        if [[ -d "$folder" ]]; then
            folders+=("$folder")
        fi
    done

    echo "--- ruff check ${folders[*]}"
    "$VENV/bin/ruff" check "${folders[@]}" || status=1
    echo "--- ruff format --check ${folders[*]}"
    "$VENV/bin/ruff" format --check "${folders[@]}" || status=1
    echo "--- mypy"
    "$VENV/bin/mypy" || status=1
    echo "--- lint-imports"
    "$VENV/bin/lint-imports" || status=1
    return "$status"
}

offscreen_tests() {
    QT_QPA_PLATFORM=offscreen run_tests "$VENV/bin/pytest" -m "not x11"
}

# Start Xvfb on the first free display from :99 up; print the display number.
start_xvfb() {
    local number
    for ((number = 99; number < 160; number++)); do
        # A lock file or socket means some X server has (or had) that display.
        if [[ -e "/tmp/.X$number-lock" || -e "/tmp/.X11-unix/X$number" ]]; then
            continue
        fi

        # -noreset: without it Xvfb resets, and forgets keymap changes, whenever its
        # last client disconnects, e.g. between two tests.
        Xvfb ":$number" -screen 0 1280x800x24 -noreset -nolisten tcp \
            >"$WORKDIR/xvfb.log" 2>&1 &
        XVFB_PID=$!
        if wait_for 10 env DISPLAY=":$number" xdpyinfo; then
            printf '%s\n' "$number"
            return 0
        fi

        # Another server may have taken the number between the check and the start.
        kill "$XVFB_PID" 2>/dev/null || true
        wait "$XVFB_PID" 2>/dev/null || true
        XVFB_PID=""
    done
    echo "no X display from :99 to :159 could be started; last Xvfb log:" >&2
    cat "$WORKDIR/xvfb.log" >&2
    return 1
}

x11_tests() {
    local number
    # $( ) runs in a subshell, which would lose XVFB_PID, so the number goes via a file.
    start_xvfb >"$WORKDIR/display" || return 1
    number=$(<"$WORKDIR/display")
    export DISPLAY=":$number"
    echo "Xvfb is answering on $DISPLAY"

    # A slim bar at the top right that grows with its icons and paints a solid
    # background, so screenshots read clearly. No window manager runs, so nothing would
    # honour a strut reserving screen space; it is left off.
    trayer --edge top --align right --widthtype request --height 32 \
        --SetDockType true --SetPartialStrut false --transparent false \
        --monitor 0 >"$WORKDIR/trayer.log" 2>&1 &
    TRAYER_PID=$!

    # The tray is ready when trayer owns the _NET_SYSTEM_TRAY_S0 selection; no command
    # line tool prints selection owners, so a small helper asks libX11 directly.
    if ! "$VENV/bin/python" tests/x11/xtools.py wait-tray 15; then
        echo "trayer log:" >&2
        cat "$WORKDIR/trayer.log" >&2
        return 1
    fi

    # GEARSHIFT_X11_REQUIRED makes a test fail rather than skip if the harness is missing.
    QT_QPA_PLATFORM=xcb GEARSHIFT_X11_REQUIRED=1 run_tests "$VENV/bin/pytest" -m x11
}

do_test() {
    trap cleanup EXIT
    # Turn Ctrl+C and kill into an ordinary exit, so the EXIT trap cleans up.
    trap 'exit 130' INT
    trap 'exit 143' TERM

    heading "System packages"
    install_packages "${RUN_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
    heading "Virtual environment"
    make_venv
    install_gearshift "test,dev"

    WORKDIR=$(mktemp -d -t gearshift-test.XXXXXX)
    # Qt warns on every start when it has no private runtime folder; give it one.
    if [[ -z "${XDG_RUNTIME_DIR:-}" ]]; then
        mkdir -m 0700 "$WORKDIR/runtime"
        export XDG_RUNTIME_DIR="$WORKDIR/runtime"
    fi

    stage "Static checks: ruff, mypy, import-linter" static_checks
    stage "Offscreen tests" offscreen_tests
    stage "Real-X tests (Xvfb + trayer)" x11_tests

    if ((${#FAILED_STAGES[@]} > 0)); then
        heading "Failed"
        printf '  %s\n' "${FAILED_STAGES[@]}"
        exit 1
    fi
    heading "All checks passed"
}

main() {
    local mode=${1:-}
    case "$mode" in
        run)
            shift
            do_run "$@"
            ;;
        test)
            (($# == 1)) || die "test takes no further arguments"
            do_test
            ;;
        *)
            echo "usage: bash scripts/setup.sh run [GEARSHIFT OPTIONS...] | test" >&2
            exit "$EXIT_USAGE"
            ;;
    esac
}

main "$@"
