"""Fixtures of the control tests."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.control.rig import ServedApp


@pytest.fixture
def socket_path() -> Iterator[Path]:
    """A socket path in a fresh private folder, short enough for AF_UNIX (108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="gs-") as folder:
        yield Path(folder) / "run" / "control.sock"


@pytest.fixture
def served(socket_path: Path) -> Iterator[ServedApp]:
    """The API served over a fake machine, with no cooldown."""
    app = ServedApp(socket_path)
    yield app
    app.close()
