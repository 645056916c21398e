"""The ways of listening for hotkeys: which one a session gets, the desktop portal against
a fake portal on a private D-Bus session bus, and pynput refusing in words."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from gearshift.core.errors import HotkeyError
from gearshift.core.hotkeys import Binding, HotkeyAction, bindings_from_text
from gearshift.system.hotkeys import (
    PortalListener,
    PynputListener,
    listener_order,
    session_bus_address,
)
from tests.fakes.portal import FakePortal, private_session_bus

ENTER, TOGGLE = HotkeyAction.ENTER_COMPETITIVE, HotkeyAction.TOGGLE


def bindings(enter: str = "Ctrl+Shift+F10", toggle: str = "Meta+G") -> tuple[Binding, ...]:
    found, problems = bindings_from_text(enter, toggle)
    assert problems == ()
    return found


@pytest.mark.parametrize(
    ("environ", "platform", "order"),
    [
        ({"DISPLAY": ":0"}, "linux", ("pynput", "portal")),
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux", ("portal",)),
        ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"}, "linux", ("portal",)),
        ({}, "win32", ("pynput",)),
    ],
)
def test_each_session_gets_its_ways_best_first(
    environ: dict[str, str], platform: str, order: tuple[str, ...]
) -> None:
    assert listener_order(environ, platform) == (order, None)


def test_no_display_and_no_wayland_says_so() -> None:
    order, why = listener_order({}, "linux")
    assert order == ()
    assert why == "no X11 display and no Wayland session: nothing to listen for keys on"


def test_session_bus_address_falls_back_to_the_runtime_folder(tmp_path: Path) -> None:
    assert session_bus_address({"DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}) == "unix:path=/x"
    assert session_bus_address({"XDG_RUNTIME_DIR": str(tmp_path)}) is None
    (tmp_path / "bus").touch()
    assert session_bus_address({"XDG_RUNTIME_DIR": str(tmp_path)}) == (f"unix:path={tmp_path}/bus")


def test_pynput_refuses_in_words_without_an_x_display(monkeypatch: pytest.MonkeyPatch) -> None:
    # (A display no server answers on is refused the same way, but python-xlib leaves
    # the sockets it tried open, which this suite's warnings-as-errors would report.)
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(HotkeyError, match="cannot connect to the X server: Bad display"):
        asyncio.run(PynputListener().start(bindings(), lambda _action: None))


# ------------------------------------------------------------------------- portal


@pytest.fixture
def bus() -> Iterator[str]:
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is missing (apt-get install dbus)")
    with private_session_bus() as address:
        yield address


@pytest.fixture
def portal(bus: str) -> Iterator[FakePortal]:
    fake = FakePortal(bus)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


async def wait_for(condition: object, timeout_s: float = 5.0) -> None:
    async def poll() -> None:
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout_s)


def test_portal_binds_the_preferred_triggers_and_delivers_presses(portal: FakePortal) -> None:
    async def scenario() -> tuple[dict[HotkeyAction, str], list[HotkeyAction]]:
        presses: list[HotkeyAction] = []
        listener = PortalListener(portal.address)
        bound = await listener.start(bindings(), presses.append)
        assert listener.version == 1
        portal.activate("toggle")
        portal.activate("enter_competitive")
        portal.activate("enter_competitive", session="/not/our/session")
        portal.activate("unknown_id")
        await wait_for(lambda: len(presses) >= 2)
        await asyncio.sleep(0.1)  # the two foreign activations would arrive by now
        await listener.stop()
        await listener.stop()  # twice is fine
        return bound, presses

    bound, presses = asyncio.run(scenario())
    assert bound == {ENTER: "Press CTRL+SHIFT+F10", TOGGLE: "Press LOGO+g"}
    assert presses == [TOGGLE, ENTER]
    assert [shortcut_id for shortcut_id, _ in portal.bound] == ["enter_competitive", "toggle"]
    assert portal.bound[0][1] == {
        "description": ENTER.description,
        "preferred_trigger": "CTRL+SHIFT+F10",
    }
    assert portal.closed == portal.sessions  # the session was closed on stop


def test_portal_cancelled_by_the_player_is_refused_in_words(portal: FakePortal) -> None:
    portal.bind_response = 1
    listener = PortalListener(portal.address)
    with pytest.raises(HotkeyError, match="you cancelled the shortcuts"):
        asyncio.run(listener.start(bindings(), lambda _action: None))
    assert portal.closed == portal.sessions


def test_a_portal_without_global_shortcuts_is_refused_in_words(portal: FakePortal) -> None:
    portal.offers_shortcuts = False
    with pytest.raises(HotkeyError, match="offers no global shortcuts"):
        asyncio.run(PortalListener(portal.address).start(bindings(), lambda _action: None))


def test_no_portal_on_the_bus_is_refused_in_words(bus: str) -> None:
    with pytest.raises(HotkeyError, match="no desktop portal is running"):
        asyncio.run(PortalListener(bus).start(bindings(), lambda _action: None))


def test_no_session_bus_is_refused_in_words(tmp_path: Path) -> None:
    with pytest.raises(HotkeyError, match="no D-Bus session bus"):
        asyncio.run(PortalListener(None).start(bindings(), lambda _action: None))
    with pytest.raises(HotkeyError, match="cannot reach the D-Bus session bus"):
        address = f"unix:path={tmp_path}/nothing-here"
        asyncio.run(PortalListener(address).start(bindings(), lambda _action: None))


def test_the_desktop_closing_the_session_is_a_problem(portal: FakePortal) -> None:
    async def scenario() -> str | None:
        listener = PortalListener(portal.address)
        await listener.start(bindings(), lambda _action: None)
        assert listener.problem() is None
        portal.close_session()
        await wait_for(lambda: listener.problem() is not None)
        await listener.stop()
        return listener.problem()

    assert asyncio.run(scenario()) == "the desktop closed the shortcuts session"
