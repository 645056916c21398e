"""The helper's console script and its polkit policy."""

from __future__ import annotations

import subprocess
import tomllib
import xml.etree.ElementTree as ElementTree
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_helper_is_a_console_script() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["gearshift-helper"] == "gearshift.system.helper:main"


def test_the_policy_names_one_action_that_asks_for_the_administrator() -> None:
    root = ElementTree.parse(REPO / "packaging" / "io.github.gearshift.helper.policy").getroot()
    actions = root.findall("action")
    assert [a.get("id") for a in actions] == ["io.github.gearshift.helper"]
    defaults = actions[0].find("defaults")
    assert defaults is not None
    assert {child.text for child in defaults} <= {"auth_admin", "auth_admin_keep"}
    annotate = actions[0].find("annotate")
    assert annotate is not None and annotate.text == "@HELPER@"


def test_install_desktop_places_the_policy_with_the_helper_path_and_removes_it(
    tmp_path: Path,
) -> None:
    script = REPO / "packaging" / "install-desktop.sh"
    helper = "/opt/games & co/gearshift-helper"
    subprocess.run(
        ["bash", str(script), "--prefix", str(tmp_path), "--helper", helper],
        check=True,
        capture_output=True,
        timeout=60,
    )
    policy = tmp_path / "share/polkit-1/actions/io.github.gearshift.helper.policy"
    annotate = ElementTree.parse(policy).getroot().find("action/annotate")
    assert annotate is not None and annotate.text == helper

    subprocess.run(
        ["bash", str(script), "--prefix", str(tmp_path), "--uninstall"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert not (tmp_path / "share/polkit-1").exists()
