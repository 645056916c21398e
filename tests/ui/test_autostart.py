"""Start at login: the XDG autostart entry, its Exec quoting, and where it cannot work."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gearshift.ui.autostart import (
    AutostartError,
    NoAutostart,
    XdgAutostart,
    autostart_for_platform,
    desktop_entry,
    desktop_exec,
    launch_command,
)


def parse_exec(value: str) -> list[str]:
    """Read an Exec value back into arguments, as the Desktop Entry spec says a launcher
    does: string escapes first, then double-quoted arguments, then %% for %."""
    unescaped, index = [], 0
    escapes = {"\\": "\\", "s": " ", "n": "\n", "t": "\t", "r": "\r"}
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value) and value[index + 1] in escapes:
            unescaped.append(escapes[value[index + 1]])
            index += 2
            continue
        unescaped.append(char)
        index += 1
    text = "".join(unescaped)

    arguments: list[str] = []
    current: list[str] | None = None
    quoted = False
    index = 0
    while index < len(text):
        char = text[index]
        if quoted:
            if char == "\\" and text[index + 1] in '"`$\\':
                current.append(text[index + 1])  # type: ignore[union-attr]
                index += 2
                continue
            if char == '"':
                quoted = False
            else:
                current.append(char)  # type: ignore[union-attr]
        elif char == " ":
            if current is not None:
                arguments.append("".join(current))
            current = None
        elif char == '"':
            quoted, current = True, current or []
        else:
            current = (current or []) + [char]
        index += 1
    if current is not None:
        arguments.append("".join(current))
    return [argument.replace("%%", "%") for argument in arguments]


def entry_of(text: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser["Desktop Entry"]


def test_the_entry_starts_this_install_with_python_m_gearshift() -> None:
    assert launch_command() == [sys.executable, "-m", "gearshift"]
    entry = entry_of(desktop_entry(launch_command()))
    assert parse_exec(entry["Exec"]) == [sys.executable, "-m", "gearshift"]
    assert entry["Type"] == "Application" and entry["Name"] == "Gearshift"
    assert entry["X-GNOME-Autostart-enabled"] == "true"


def test_a_standalone_build_starts_its_own_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/gearshift/gearshift")
    assert launch_command() == ["/opt/gearshift/gearshift"]


@pytest.mark.parametrize(
    "command",
    [
        ["/home/me/My Games/gear shift/.venv/bin/python", "-m", "gearshift"],
        ['/odd/"quoted"/py', "-m", "gearshift"],
        ["/odd/back\\slash/py", "-m", "gearshift"],
        ["/odd/$HOME/`cmd`/100%/py", "-m", "gearshift"],
        ["/odd/it's;here&(now)/py"],
    ],
)
def test_any_install_path_survives_the_exec_quoting(command: list[str]) -> None:
    assert parse_exec(desktop_exec(command)) == command


def test_a_plain_path_is_written_without_quotes() -> None:
    assert desktop_exec(["/usr/bin/python3", "-m", "gearshift"]) == "/usr/bin/python3 -m gearshift"


def test_turning_it_on_writes_the_entry_and_off_removes_it(tmp_path: Path) -> None:
    autostart = XdgAutostart(tmp_path / "autostart", ["/usr/bin/python3", "-m", "gearshift"])
    assert not autostart.is_enabled()
    autostart.set_enabled(True)
    entry = tmp_path / "autostart" / "gearshift.desktop"
    assert autostart.is_enabled() and autostart.location == str(entry)
    assert "Exec=/usr/bin/python3 -m gearshift\n" in entry.read_text()
    autostart.set_enabled(False)
    assert not entry.exists() and not autostart.is_enabled()
    autostart.set_enabled(False)  # already off: nothing to do, no error


def test_the_entry_follows_xdg_config_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert XdgAutostart().path == tmp_path / "cfg" / "autostart" / "gearshift.desktop"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/is/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert XdgAutostart().path == tmp_path / "home" / ".config" / "autostart" / "gearshift.desktop"


def test_an_entry_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "autostart").write_text("a file where the folder should be")
    autostart = XdgAutostart(tmp_path / "autostart")
    with pytest.raises(AutostartError, match=r"cannot write the autostart entry .*gearshift"):
        autostart.set_enabled(True)


def test_a_platform_without_autostart_says_why() -> None:
    none_here = NoAutostart("not built for Windows yet")
    assert not none_here.is_enabled()
    none_here.set_enabled(False)
    with pytest.raises(AutostartError, match="cannot start Gearshift at login: not built"):
        none_here.set_enabled(True)


def test_linux_gets_the_xdg_entry() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the XDG entry is the Linux mechanism")
    assert isinstance(autostart_for_platform(), XdgAutostart)


def test_the_entry_passes_desktop_file_validate(tmp_path: Path) -> None:
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        pytest.skip("desktop-file-validate is missing (apt-get install desktop-file-utils)")
    autostart = XdgAutostart(tmp_path, ["/home/me/My Games/py 3", "-m", "gearshift"])
    autostart.set_enabled(True)
    done = subprocess.run(
        [validator, str(autostart.path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr
