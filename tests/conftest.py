"""Fixtures every test folder may use."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_CAPTURES = Path(__file__).resolve().parents[1] / ".." / "shared" / "captures"
"""Real captures written by other people's tools: the repository root's sibling shared/."""


def _capture_files() -> list[Path]:
    if not SHARED_CAPTURES.is_dir():
        return []
    return sorted(p for p in SHARED_CAPTURES.iterdir() if p.is_file() and p.suffix != ".md")


@pytest.fixture(scope="session")
def shared_captures() -> Path:
    """The folder of real captures; the test is skipped when it is absent."""
    if not SHARED_CAPTURES.is_dir():
        pytest.skip(f"no shared captures folder at {SHARED_CAPTURES.resolve()}")
    return SHARED_CAPTURES


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give a test that asks for ``shared_capture_file`` one run per real capture."""
    if "shared_capture_file" not in metafunc.fixturenames:
        return
    files = _capture_files()
    if files:
        metafunc.parametrize("shared_capture_file", files, ids=[p.name for p in files])
        return
    reason = f"no shared captures folder at {SHARED_CAPTURES.resolve()}"
    skipped = pytest.param(None, marks=pytest.mark.skip(reason=reason))
    metafunc.parametrize("shared_capture_file", [skipped])
