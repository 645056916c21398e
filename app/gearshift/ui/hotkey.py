"""The global hotkeys inside the app: start the best way of listening, say how it went.

The listening itself is in ``gearshift.system.hotkeys`` and the combinations in
``gearshift.core.hotkeys``; this picks a way for the session, tries the next when one
fails, and keeps one line of status that the settings window and the control API's
health show. Where no way works, the status says why for each and what to bind in the
desktop's own shortcut settings instead; it is logged as a warning too, so nothing
fails silently.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication

from gearshift.config import HotkeySettings
from gearshift.control.protocol import SubsystemHealth
from gearshift.core.errors import HotkeyError
from gearshift.core.hotkeys import SHORTCUT_ADVICE, Binding, HotkeyAction, bindings_from_text
from gearshift.system.hotkeys import HotkeyListener, listener_order, make_listener

_log = logging.getLogger(__name__)

ListenerFactory = Callable[[str, Mapping[str, str]], HotkeyListener]
"""Makes the listener listener_order() names; tests pass fakes."""

HEADLESS_PLATFORMS = frozenset({"offscreen", "minimal"})
"""Qt platforms with no desktop behind them, so no keyboard to take hotkeys from."""


class HotkeyState(enum.Enum):
    """Where the global hotkeys are."""

    OFF = "off"
    """Turned off in the settings, or no combination set."""

    STARTING = "starting"
    """A way of listening is being started (the desktop may be showing a dialog)."""

    LISTENING = "listening"
    """At least one hotkey works."""

    UNAVAILABLE = "unavailable"
    """No way of listening works here; the status says why and what to do instead."""


class HotkeyService(QObject):
    """Runs the global hotkeys for the app.

    Args:
        on_press: what a press does (the controller switches modes).
        environ: the environment that says which desktop session this is.
        platform: sys.platform.
        listeners: makes each way of listening.
        qt_platform: Qt's platform plugin; the running application's when None.
    """

    status_changed = Signal()
    """The state or the status line changed."""

    def __init__(
        self,
        on_press: Callable[[HotkeyAction], Awaitable[None]],
        *,
        environ: Mapping[str, str] | None = None,
        platform: str = sys.platform,
        listeners: ListenerFactory = make_listener,
        qt_platform: str | None = None,
    ) -> None:
        super().__init__()
        self._on_press = on_press
        self._environ = os.environ if environ is None else environ
        self._platform = platform
        self._listeners = listeners
        self._qt_platform = qt_platform
        self._listener: HotkeyListener | None = None
        self._starting: asyncio.Task[None] | None = None
        self._presses: set[asyncio.Task[None]] = set()
        self.state = HotkeyState.OFF
        self.status = "Global hotkeys are turned off in the settings."
        """One line for the player: what works, or why nothing does and what to do."""
        self.bound: dict[HotkeyAction, str] = {}
        """Each working hotkey's combination, as the desktop shows it."""
        self.way: str | None = None
        """The way of listening that works, e.g. "X11 (pynput)"."""
        self._refused: tuple[str, ...] = ()

    def start(self, settings: HotkeySettings) -> None:
        """Start listening as the settings say, in the background."""
        bindings, self._refused = bindings_from_text(settings.enter_competitive, settings.toggle)
        if not settings.enabled or (not bindings and not self._refused):
            self._set(HotkeyState.OFF, "Global hotkeys are turned off in the settings.")
            return
        if not bindings:
            self._unavailable("; ".join(self._refused))
            return
        qt_platform = self._qt_platform or QGuiApplication.platformName()
        if qt_platform in HEADLESS_PLATFORMS:
            self._unavailable(f"Qt runs on its {qt_platform} platform here, with no desktop")
            return
        self._set(HotkeyState.STARTING, "Starting the global hotkeys…")
        self._starting = asyncio.ensure_future(self._start(bindings))

    async def stop(self) -> None:
        """Stop listening; presses in progress finish."""
        starting, self._starting = self._starting, None
        if starting is not None:
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.stop()
        await asyncio.gather(*self._presses, return_exceptions=True)
        self.bound = {}
        self.way = None
        if self.state in (HotkeyState.STARTING, HotkeyState.LISTENING):
            self._set(HotkeyState.OFF, "Global hotkeys are stopped.")

    async def restart(self, settings: HotkeySettings) -> None:
        """Listen as changed settings say (the settings window calls this)."""
        await self.stop()
        self.start(settings)

    async def started(self) -> None:
        """Wait until a start in progress has settled (listening or unavailable)."""
        if self._starting is not None:
            await asyncio.gather(self._starting, return_exceptions=True)

    def health(self) -> SubsystemHealth:
        """The hotkeys' health for the control API."""
        problem = self._listener.problem() if self._listener is not None else None
        if self.state is HotkeyState.LISTENING and problem is not None:
            return SubsystemHealth(
                state="degraded", reason=f"{problem}; restart Gearshift, or {SHORTCUT_ADVICE}"
            )
        if self.state is HotkeyState.LISTENING and self._refused:
            return SubsystemHealth(state="degraded", reason=self.status)
        if self.state is HotkeyState.LISTENING:
            return SubsystemHealth(state="ok", reason=self.status)
        if self.state is HotkeyState.STARTING:
            return SubsystemHealth(state="degraded", reason=self.status)
        return SubsystemHealth(state="unavailable", reason=self.status)

    # ---------------------------------------------------------------------- inside

    async def _start(self, bindings: tuple[Binding, ...]) -> None:
        order, none_why = listener_order(self._environ, self._platform)
        reasons = [] if none_why is None else [none_why]
        for kind in order:
            listener = self._listeners(kind, self._environ)
            try:
                self.bound = await listener.start(bindings, self._pressed)
            except HotkeyError as error:
                reasons.append(f"{listener.name}: {error}")
                continue
            except Exception as error:  # a broken way must not break the app
                _log.warning("hotkey listener %s failed", listener.name, exc_info=True)
                reasons.append(f"{listener.name}: {error}")
                continue
            self._listener = listener
            self.way = listener.name
            self._listening()
            return
        self._unavailable("; ".join([*reasons, *self._refused]))

    def _listening(self) -> None:
        keys = []
        for action, shown in self.bound.items():
            what = (
                "enters Competitive (again: back to Immersive)"
                if action is HotkeyAction.ENTER_COMPETITIVE
                else "switches between the modes"
            )
            keys.append(f"{shown} {what}")
        status = f"{'; '.join(keys)}, through {self.way}."
        if self._refused:
            status += f" Not used: {'; '.join(self._refused)}."
        _log.info("global hotkeys: %s", status)
        self._set(HotkeyState.LISTENING, status)

    def _unavailable(self, reasons: str) -> None:
        status = f"No global hotkey: {reasons}. Instead, {SHORTCUT_ADVICE}."
        _log.warning("%s", status)
        self._set(HotkeyState.UNAVAILABLE, status)

    def _set(self, state: HotkeyState, status: str) -> None:
        self.state = state
        self.status = status
        self.status_changed.emit()

    def _pressed(self, action: HotkeyAction) -> None:
        """On the event loop's thread (the listeners hand presses over to it)."""
        shown = self.bound.get(action, action.value)
        _log.info("hotkey %s pressed", shown)
        task = asyncio.ensure_future(self._on_press(action))
        self._presses.add(task)
        task.add_done_callback(self._presses.discard)
