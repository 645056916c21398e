"""The GPU sampler: every GPU read on a fixed schedule, handed out as frozen snapshots.

``GpuTelemetry`` opens NVML once, describes every GPU and probes what each supports,
then samples them all on a fixed schedule (4 a second by default; a tick that is missed
is skipped, not caught up). NVML blocks, so each round runs on one worker thread with a
time limit; the event loop never waits on the card.

A GPU that stops answering is marked lost and retried with back-off (1 s, doubling to
a minute), while the others go on. The GPU whose readings sit beside the frame times is
chosen in this order: the one pinned in the settings; the one the game's process renders
on (from NVML's process lists); the one driving the display; the first that answers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from gearshift.gpu.errors import GpuDeviceError, GpuUnavailableError
from gearshift.gpu.model import (
    DriverInfo,
    GpuInfo,
    GpuProcess,
    GpuReadings,
    GpuSnapshot,
    GpuState,
    Telemetry,
)
from gearshift.gpu.nvml import NvmlBackend
from gearshift.gpu.probe import ProbeResult, probe

_log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 0.25
"""Four samples a second."""

MIN_INTERVAL_S = 0.01
MAX_INTERVAL_S = 10.0
"""The sampling intervals the sampler takes: 100 samples a second to one every 10 s."""

DEFAULT_HISTORY_S = 60.0
"""How much history of the followed GPU is kept, in seconds."""

RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0
"""A lost GPU is tried again after 1 s, then 2, 4, ... up to a minute apart."""

ROUND_TIMEOUT_S = 2.0
"""A sampling round that takes longer than this is abandoned; the next tick tries again."""

PROCESS_EVERY_TICKS = 4
"""Process lists (for following the game's GPU) are read on every fourth tick."""

MAX_PIN_CHARS = 64
"""The longest GPU pin there is: a UUID with its 'GPU-' prefix is 40 characters."""

NOT_STARTED = Telemetry(available=False, reason="GPU telemetry has not started yet")


@dataclass
class _Lost:
    reason: str
    retry_at_s: float
    backoff_s: float


def match_pin(pin: str, gpus: Iterable[GpuInfo]) -> GpuInfo | None:
    """The GPU a settings pin names: its index ("1"), its UUID (or the start of it,
    8 characters or more) or its PCI bus id ("01:00.0" or the full form)."""
    wanted = pin.strip().lower()
    if not wanted or len(wanted) > MAX_PIN_CHARS:
        return None
    by_index = wanted.isascii() and wanted.isdigit() and len(wanted) <= 4
    for gpu in gpus:
        if by_index and int(wanted) == gpu.index:
            return gpu
        uuid = (gpu.uuid or "").lower()
        bare_uuid, bare_wanted = uuid.removeprefix("gpu-"), wanted.removeprefix("gpu-")
        if len(bare_wanted) >= 8 and bare_uuid.startswith(bare_wanted):
            return gpu
        bus = (gpu.pci_bus_id or "").lower()
        if ":" in wanted and bus and (bus == wanted or bus.endswith(":" + wanted)):
            return gpu
    return None


def choose_followed(
    gpus: Sequence[GpuSnapshot],
    pin: str | None,
    game_pids: frozenset[int],
    processes: dict[int, tuple[GpuProcess, ...]],
    pinned_why: str = "pinned in the settings",
) -> tuple[int | None, str | None]:
    """Which GPU's readings go beside the frame times, and why, in words."""
    if not gpus:
        return None, None
    answering = [g for g in gpus if g.state is GpuState.OK]
    note = ""
    if pin:
        pinned = match_pin(pin, (g.info for g in gpus))
        if pinned is not None:
            return pinned.index, pinned_why
        note = f"; the pinned GPU {pin!r} is not on this machine, or has never answered"

    if game_pids:
        for gpu in answering:
            pids = {p.pid for p in processes.get(gpu.info.index, ())}
            found = sorted(game_pids & pids)
            if found:
                return gpu.info.index, f"the game (pid {found[0]}) renders on it{note}"
        note += "; the game is not on an NVIDIA GPU (it may render on the integrated one)"

    for gpu in answering:
        if gpu.info.display_active:
            return gpu.info.index, f"it drives the display{note}"
    if answering:
        only = "the only NVIDIA GPU" if len(gpus) == 1 else "the first NVIDIA GPU that answers"
        return answering[0].info.index, f"{only}{note}"
    return gpus[0].info.index, f"no GPU answers{note}"


def _placeholder(index: int) -> GpuInfo:
    """A GPU that did not answer when first asked: only its index is known."""
    return GpuInfo(
        index=index,
        name="",
        uuid=None,
        pci_bus_id=None,
        brand=None,
        architecture=None,
        generation=None,
        memory_total_mib=None,
        power_default_w=None,
        power_limit_w=None,
        power_min_w=None,
        power_max_w=None,
        max_graphics_clock_mhz=None,
        max_sm_clock_mhz=None,
        max_memory_clock_mhz=None,
        display_active=None,
        mig_enabled=None,
    )


class GpuTelemetry:
    """Samples every GPU and keeps the latest Telemetry and a bounded history.

    Args:
        backend: the NVML adapter (over pynvml, or over the fake).
        interval_s: seconds between samples.
        history_s: seconds of the followed GPU's readings kept.
        pin: the settings' GPU pin (index, UUID or PCI bus id), or None.
        pinned_why: how a pinned GPU is explained ("pinned in the settings").
        clock: monotonic seconds.
        helper_available: whether root-only controls can go through the helper.
    """

    def __init__(
        self,
        backend: NvmlBackend,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        history_s: float = DEFAULT_HISTORY_S,
        pin: str | None = None,
        pinned_why: str = "pinned in the settings",
        clock: Callable[[], float] = time.monotonic,
        helper_available: bool = False,
    ) -> None:
        if not MIN_INTERVAL_S <= interval_s <= MAX_INTERVAL_S:
            raise ValueError(
                f"interval_s must be from {MIN_INTERVAL_S} to {MAX_INTERVAL_S} s, got {interval_s}"
            )
        self.interval_s = interval_s
        self.pin = pin or None
        self.pinned_why = pinned_why
        self.latest = NOT_STARTED
        self.history: deque[GpuReadings] = deque(maxlen=max(1, int(history_s / interval_s)))
        """The followed GPU's readings, oldest first; bounded."""
        self.probes: dict[int, ProbeResult] = {}
        """What each GPU supports, from the last probe."""
        self.processes: dict[int, tuple[GpuProcess, ...]] = {}
        self._backend = backend
        self._clock = clock
        self._helper_available = helper_available
        self._driver: DriverInfo | None = None
        self._infos: list[GpuInfo] = []
        self._described: set[int] = set()
        self._readings: dict[int, GpuReadings] = {}
        self._lost: dict[int, _Lost] = {}
        self._game_pids: frozenset[int] = frozenset()
        self._ticks = 0
        self._history_of: int | None = None
        self._opened = False
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def backend(self) -> NvmlBackend:
        """The NVML adapter this samples through (GPU changes share it)."""
        return self._backend

    # ---------------------------------------------------------------- blocking work

    def open(self) -> Telemetry:
        """Start NVML, describe and probe every GPU, take a first sample (blocking).

        A machine without NVML, or where it cannot start, gets an unavailable Telemetry
        with the reason in words, logged once; nothing raises.
        """
        try:
            self._driver = self._backend.open()
            self._opened = True
            count = self._backend.count()
        except GpuUnavailableError as error:
            _log.debug("%s", error)  # said once, by whoever shows it
            self.latest = Telemetry(available=False, reason=str(error))
            return self.latest

        now_s = self._clock()
        self._infos = [self._describe(index, now_s) for index in range(count)]
        for info in self._infos:
            _log.info("GPU %d: %s (%s)", info.index, info.name, info.pci_bus_id or "bus unknown")
        self.sample()
        self.probe_all()
        return self.latest

    def sample(self) -> Telemetry:
        """Take one round of samples of every GPU that answers (blocking)."""
        if not self._opened:
            return self.latest
        now_s = self._clock()
        self._ticks += 1
        for info in list(self._infos):
            lost = self._lost.get(info.index)
            if lost is not None and now_s < lost.retry_at_s:
                continue
            try:
                if info.index not in self._described:
                    self._infos[info.index] = self._describe(info.index, now_s, raise_=True)
                self._readings[info.index] = self._backend.sample(info.index, now_s)
                if self._game_pids and self._ticks % PROCESS_EVERY_TICKS == 1:
                    self.processes[info.index] = self._backend.processes(info.index)
            except GpuDeviceError as error:
                self._mark_lost(info.index, error.reason, now_s)
                continue
            if lost is not None:
                del self._lost[info.index]
                _log.info("GPU %d answers again", info.index)
        self.latest = self._snapshot(now_s)
        followed = self.latest.followed_gpu
        if self.latest.followed != self._history_of:
            self.history.clear()  # one GPU's readings, never two in one series
            self._history_of = self.latest.followed
        readings = None if followed is None else followed.readings
        if readings is not None and (not self.history or self.history[-1] is not readings):
            self.history.append(readings)
        return self.latest

    def probe_all(self) -> dict[int, ProbeResult]:
        """Ask every answering GPU again what it supports (blocking)."""
        for info in self._infos:
            if info.index in self._lost:
                continue
            try:
                facts = self._backend.control_facts(info.index)
                processes = self._backend.processes(info.index)
            except GpuDeviceError as error:
                self._mark_lost(info.index, error.reason, self._clock())
                continue
            self.processes[info.index] = processes
            self.probes[info.index] = probe(
                info,
                facts,
                self._readings.get(info.index),
                processes,
                helper_available=self._helper_available,
            )
        return self.probes

    def close(self) -> None:
        """Shut NVML down (blocking; safe to call twice)."""
        if self._opened:
            self._opened = False
            self._backend.close()

    # ------------------------------------------------------------------ async running

    def follow_pids(self, pids: Iterable[int]) -> None:
        """The game's process ids: the GPU that lists one of them is followed."""
        self._game_pids = frozenset(pids)
        self._ticks = 0  # read the process lists on the next tick, not up to a second later

    async def run(
        self,
        publish: Callable[[Telemetry], None],
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Open, then sample on the fixed schedule and ``publish`` each snapshot, until
        cancelled. Returns at once (after publishing why) when there is no telemetry."""
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="gearshift-nvml"
        )
        loop = asyncio.get_running_loop()
        try:
            publish(await loop.run_in_executor(self._executor, self.open))
            if not self.latest.available:
                return
            next_tick_s = self._clock() + self.interval_s
            while True:
                now_s = self._clock()
                if now_s > next_tick_s:  # missed ticks are skipped, not caught up
                    next_tick_s += (int((now_s - next_tick_s) / self.interval_s) + 1) * (
                        self.interval_s
                    )
                await sleep(next_tick_s - now_s)
                next_tick_s += self.interval_s
                await self._round(loop, publish)
        finally:
            self._shut_down_executor()

    async def _round(
        self, loop: asyncio.AbstractEventLoop, publish: Callable[[Telemetry], None]
    ) -> None:
        assert self._executor is not None
        try:
            snapshot = await asyncio.wait_for(
                loop.run_in_executor(self._executor, self.sample), ROUND_TIMEOUT_S
            )
        except TimeoutError:
            _log.warning("a GPU sample took over %g s; skipping it", ROUND_TIMEOUT_S)
            return
        publish(snapshot)

    def _shut_down_executor(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        # Close NVML on its own thread, after any call still running there; never wait
        # here for a call that may be stuck on a lost card.
        try:
            executor.submit(self.close)
        except RuntimeError:
            # The interpreter is exiting and has shut the pool down already (a task
            # left on a dead event loop ends this way); the exit releases NVML.
            return
        executor.shutdown(wait=False)

    # ---------------------------------------------------------------------- plumbing

    def _describe(self, index: int, now_s: float, raise_: bool = False) -> GpuInfo:
        try:
            info = self._backend.describe(index)
        except GpuDeviceError as error:
            if raise_:
                raise
            self._mark_lost(index, error.reason, now_s)
            return _placeholder(index)
        self._described.add(index)
        return info

    def _mark_lost(self, index: int, reason: str, now_s: float) -> None:
        lost = self._lost.get(index)
        if lost is None:
            _log.warning("GPU %d is not answering: %s; trying again with back-off", index, reason)
            self._lost[index] = _Lost(reason, now_s + RETRY_FIRST_S, RETRY_FIRST_S)
            self._readings.pop(index, None)
            return
        lost.reason = reason
        lost.backoff_s = min(lost.backoff_s * 2, RETRY_MAX_S)
        lost.retry_at_s = now_s + lost.backoff_s

    def _snapshot(self, now_s: float) -> Telemetry:
        gpus = []
        for info in self._infos:
            lost = self._lost.get(info.index)
            if lost is None:
                gpus.append(GpuSnapshot(info, GpuState.OK, self._readings.get(info.index)))
            else:
                gpus.append(
                    GpuSnapshot(
                        info,
                        GpuState.LOST,
                        None,
                        problem=lost.reason,
                        retry_in_s=max(0.0, lost.retry_at_s - now_s),
                    )
                )
        followed, why = choose_followed(
            gpus, self.pin, self._game_pids, self.processes, self.pinned_why
        )
        return Telemetry(
            available=True,
            driver=self._driver,
            gpus=tuple(gpus),
            followed=followed,
            followed_why=why,
        )
