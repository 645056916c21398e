"""Fixtures for the offscreen Qt tests: a qasync loop, and the app built on fakes."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any, TypeVar

import pytest
from pytestqt.qtbot import QtBot

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import qasync
from PySide6.QtWidgets import QApplication

from gearshift.core.actions import ActionBuilder, core_action_builders
from gearshift.core.budget import BudgetMonitor
from gearshift.core.events import EventBus
from gearshift.core.manager import ModeManager
from gearshift.core.modes import DEFAULT_PROFILES, PerformanceMode
from gearshift.frames.sources import DemoSource
from gearshift.gpu.service import GpuService
from gearshift.ui.app import GearshiftApp
from gearshift.ui.controller import AppController
from tests.fakes.actions import FakeMachine, fake_builders, setting_spec
from tests.fakes.clock import FakeClock

T = TypeVar("T")
GpuFactory = Callable[[ModeManager, EventBus], GpuService]


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """qasync's loop, running for the whole test as it does in the app.

    The loop is marked running from the start (``already_running``), so whatever
    processes Qt events (qtbot's waits, pytest-qt's own hooks) also steps the asyncio
    tasks, with the loop set as the running one. Tests wait with ``AppRig.wait_for``.
    At the end, a task still pending, or an exception nobody handled inside the loop,
    fails the test.
    """
    event_loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(event_loop)
    unhandled: list[dict[str, object]] = []
    event_loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    yield event_loop
    pending = [t for t in asyncio.all_tasks(event_loop) if not t.done()]
    for task in pending:
        task.cancel()
    deadline_s = time.monotonic() + 5
    while not all(t.done() for t in pending) and time.monotonic() < deadline_s:
        qapp.processEvents()
    # qasync offers no public way to end an already_running loop without quitting
    # the QApplication, which pytest-qt shares between tests; unmark it by hand.
    event_loop._QEventLoop__is_running = False
    asyncio.events._set_running_loop(None)
    event_loop.close()
    asyncio.set_event_loop(None)
    assert not pending, f"tasks left running: {pending}"
    assert not unhandled, f"exceptions raised in the event loop: {unhandled}"


class AppRig:
    """A GearshiftApp on a demo feed, with a fake machine action beside the budget."""

    def __init__(
        self,
        loop: qasync.QEventLoop,
        qtbot: QtBot,
        tray: bool,
        gpu: GpuFactory | None = None,
        controller_options: dict[str, Any] | None = None,
        builders: Mapping[str, ActionBuilder] | None = None,
        **app_options: Any,
    ) -> None:
        self.loop = loop
        self.qtbot = qtbot
        self.machine = FakeMachine()
        self.clock = FakeClock()
        self.monitor = BudgetMonitor(DEFAULT_PROFILES[PerformanceMode.IMMERSIVE].budget_ms)
        builders = {
            **(builders or {}),
            **core_action_builders(self.monitor),
            **fake_builders(self.machine),
        }
        extra = setting_spec("governor", "powersave", "performance")
        profiles = {
            mode: replace(profile, actions=(*profile.actions, extra))
            for mode, profile in DEFAULT_PROFILES.items()
        }
        events = EventBus()
        self.manager = ModeManager(builders, events, profiles=profiles, clock=self.clock)
        self.controller = AppController(
            DemoSource(seed=1),
            self.manager,
            self.monitor,
            events,
            gpu=gpu,
            **(controller_options or {}),
        )
        self.app = GearshiftApp(self.controller, tray_available=tray, **app_options)
        self.run_task: asyncio.Future[int] | None = None

    def start(self) -> None:
        """Run the app's main coroutine until it has shown itself."""
        self.run_task = asyncio.ensure_future(self.app.run())
        self.wait_for(lambda: self.app.window.isVisible())

    def wait_for(self, condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
        """Process events (and so step the asyncio tasks) until ``condition()`` holds."""
        self.qtbot.waitUntil(condition, timeout=int(timeout_s * 1000))

    def run(self, work: Awaitable[T]) -> T:
        """Run a coroutine on the app's loop and return its result."""
        task = asyncio.ensure_future(work)
        self.wait_for(task.done)
        return task.result()

    def quit(self) -> int:
        """Quit as the menu does, and return what run() returned."""
        assert self.run_task is not None
        self.run(self.app.shutdown())
        return self.run(self.run_task)


def started(
    loop: qasync.QEventLoop, qtbot: QtBot, tray: bool, gpu: GpuFactory | None = None
) -> Iterator[AppRig]:
    """A started AppRig, quit when the test is done."""
    app_rig = AppRig(loop, qtbot, tray=tray, gpu=gpu)
    app_rig.start()
    yield app_rig
    if app_rig.run_task is not None and not app_rig.run_task.done():
        app_rig.quit()


@pytest.fixture
def rig(loop: qasync.QEventLoop, qtbot: QtBot) -> Iterator[AppRig]:
    """A started app with no tray (as offscreen desktops have none); quit afterwards."""
    yield from started(loop, qtbot, tray=False)


@pytest.fixture
def tray_rig(loop: qasync.QEventLoop, qtbot: QtBot) -> Iterator[AppRig]:
    """As ``rig``, but with the tray icon built, so its menu can be driven."""
    yield from started(loop, qtbot, tray=True)
