"""Live feeds that follow a capture tool's output as it is written: MangoHud's log
folder, and a file or pipe the player names (PresentMon's CSV output, or a MangoHud log).

- ``MangoHudFeed`` watches the folders MangoHud writes its logs to (from MangoHud's own
  configuration, see ``mangohud_log_folders``) and follows the newest log: a log that
  appears (a game started logging) or grows is followed from where it is; the tail
  (``gearshift.frames.tail``) waits for a partly written last line and starts again on
  a log that is truncated or replaced.
- ``FollowFeed`` follows one file or pipe (``--follow FILE``, or ``--follow -`` for
  standard input: ``PresentMon --output_stdout | gearshift --follow -``). The format is
  told from the first lines, never the name.

Rows become frame times as the capture readers read them (``MangoHudRows`` and
``PresentMonRows`` reuse ``gearshift.frames.mangohud`` and ``presentmon``), a few rows
at a time instead of a whole file. Both feeds are looked at from the live source's
reader thread (``gearshift.frames.live``), never from the event loop.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import os
import re
import stat
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import psutil

from gearshift.core.metrics import FrameTimes
from gearshift.frames import mangohud, presentmon
from gearshift.frames.capture import COMPOSITOR
from gearshift.frames.sources import FeedPoll
from gearshift.frames.table import find_column, first_row, to_number
from gearshift.frames.tail import FileTail, PipeTail

_log = logging.getLogger(__name__)

FILE_POLL_S = 0.1
"""How often a followed file or pipe is read."""

SCAN_S = 1.0
"""How often MangoHud's log folders are looked at for a new log."""

CONFIG_REREAD_S = 10.0
"""How often MangoHud's configuration is read again for its log folders."""

RECENT_LOG_S = 5.0
"""At start, a log written to this recently belongs to a game running now."""

SNIFF_LINES = 12
"""How many lines a followed file gets to show what it is."""

MAX_ROW_SPAN_MS = 1000.0
"""A sampled MangoHud row stands for at most this much play (a longer gap is a pause)."""

DECIDE_ROWS = 5
"""MangoHud rows looked at before deciding whether the log is sampled."""

ACTIVITY_HALF_LIFE_S = 2.0
"""How fast a PresentMon process's recent frame count fades, for choosing the game."""

MANGOHUD_DIR_ENV = "GEARSHIFT_MANGOHUD_DIR"
"""Overrides the folders watched for MangoHud logs (several joined with os.pathsep)."""

FLATPAK_STEAM_CONFIG = Path(".var/app/com.valvesoftware.Steam/.config")
"""Where Steam's Flatpak keeps the configuration of the tools its games run with."""

SYSTEM_MANGOHUD_CONFIG = Path("/etc/MangoHud.conf")

PIPE_ADVICE = "run 'PresentMon --output_stdout | gearshift --follow -'"

_LOG_NAME = re.compile(r".+_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}\.csv")
"""How MangoHud names a log: the program, the date and time it started."""

_OPTION_SEPARATORS = re.compile(r"(?<!\\)[,:;]")


# -------------------------------------------------------------------------- decoders


class _Rows(Protocol):
    """Turns a followed capture's lines into the frame times of the game."""

    kind: str
    problem: str | None
    process: str | None
    pid: int | None

    def learn(self, lines: Sequence[str]) -> None:
        """Take the header from lines whose rows are old and not wanted."""

    def frames(self, lines: Sequence[str], now_s: float) -> FrameTimes:
        """The frame times the rows in ``lines`` hold."""
        ...


class MangoHudRows:
    """Reads a MangoHud log line by line, as MangoHud writes it (layouts 0.4 to now).

    Rows become frame times as ``gearshift.frames.mangohud`` reads them: the
    ``frametime`` column (microseconds or milliseconds, told from ``fps x frametime``),
    else ``1000 / fps``. A sampled log (one row per log interval) has each row stand
    for the frames of its interval, as many as the gap to the previous row's
    ``elapsed`` stamp holds; whether a log is sampled is decided from its first
    ``DECIDE_ROWS`` rows, which are held back until then.
    """

    kind = mangohud.FORMAT

    def __init__(self) -> None:
        self.problem: str | None = None
        self.process: str | None = None
        self.pid: int | None = None
        self.dropped = 0
        """Rows with no usable frame time."""
        self._comma_lines = 0
        self._columns: tuple[int | None, int | None, int | None] | None = None
        self._elapsed_per_ms = mangohud.NS_PER_MS
        self._in_us: bool | None = None
        self._sampled: bool | None = None
        self._held: list[tuple[float, float]] = []
        self._last_elapsed_ms = math.nan
        self._typical_gap_ms = math.nan

    def learn(self, lines: Sequence[str]) -> None:
        """Read the preamble and header; data rows among ``lines`` are old, skipped."""
        for line in lines:
            if self._columns is not None:
                return
            self._preamble(line.strip())

    def frames(self, lines: Sequence[str], now_s: float) -> FrameTimes:
        """The frame times of the rows among ``lines`` (held back until sampling is
        decided)."""
        out: list[tuple[float, int]] = []
        for line in lines:
            text = line.strip()
            if not text or self.problem is not None:
                continue
            if self._columns is None and self._preamble(text) != "row":
                continue
            self._row(text.split(","), out)
        if not out:
            return np.empty(0)
        values, counts = zip(*out, strict=True)
        return np.repeat(np.array(values, dtype=np.float64), counts)

    def _preamble(self, text: str) -> str:
        """Take one line before the data; "row" when it already is a 0.4 data row."""
        if "," not in text:
            return "banner"  # blank, version and dashed banner lines
        self._comma_lines += 1
        if self._comma_lines == 1:
            if not mangohud.sniff([text]):
                self.problem = "is not a MangoHud log (no system information at its start)"
            return "system"
        if self._comma_lines == 2:
            return "system"  # the system's values, commas inside them and all
        cells = [cell.strip() for cell in text.split(",")]
        if all(_numeric(cell) for cell in cells if cell):
            self._set_columns(list(mangohud.V04_COLUMNS))
            return "row"
        self._set_columns(cells)
        return "header"

    def _set_columns(self, header: Sequence[str]) -> None:
        frame = find_column(header, mangohud.FRAME_TIME_COLUMN)
        fps = find_column(header, mangohud.FPS_COLUMN)
        elapsed = find_column(header, mangohud.ELAPSED_COLUMN)
        if frame is None and fps is None:
            self.problem = "is a MangoHud log with neither a frametime nor an fps column"
        # Logs with a frametime column stamp elapsed in ns; 0.4 and 0.5 in microseconds.
        self._elapsed_per_ms = mangohud.NS_PER_MS if frame is not None else mangohud.US_PER_MS
        self._columns = (frame, fps, elapsed)

    def _row(self, cells: Sequence[str], out: list[tuple[float, int]]) -> None:
        assert self._columns is not None
        frame, fps, elapsed = (_cell(cells, index) for index in self._columns)
        frame_ms = self._frame_ms(frame, fps)
        if not (math.isfinite(frame_ms) and frame_ms > 0):
            self.dropped += 1
            return
        self._held.append((frame_ms, elapsed / self._elapsed_per_ms))
        if self._sampled is None and len(self._held) < DECIDE_ROWS:
            return
        if self._sampled is None:
            self._sampled = self._decide_sampled()
        for frame_ms, elapsed_ms in self._held:
            out.append((frame_ms, self._frames_in_row(frame_ms, elapsed_ms)))
        self._held.clear()

    def _frame_ms(self, frame: float, fps: float) -> float:
        if self._columns is not None and self._columns[0] is None:
            return 1000.0 / fps if fps > 0 else math.nan
        if self._in_us is None and math.isfinite(frame) and frame > 0:
            if math.isfinite(fps) and fps > 0:
                self._in_us = frame * fps > mangohud.FPS_TIMES_FRAMETIME_SPLIT
            else:
                self._in_us = frame == round(frame) and frame >= mangohud.MIN_MICROSECONDS
        return frame / 1000.0 if self._in_us else frame

    def _decide_sampled(self) -> bool:
        frames_ms = np.array([frame for frame, _ in self._held])
        gaps_ms = np.diff(np.array([stamp for _, stamp in self._held]))
        gaps_ms = gaps_ms[np.isfinite(gaps_ms) & (gaps_ms > 0)]
        if gaps_ms.size == 0:
            return False
        self._typical_gap_ms = float(np.median(gaps_ms))
        return self._typical_gap_ms > mangohud.SAMPLED_GAP_RATIO * float(np.median(frames_ms))

    def _frames_in_row(self, frame_ms: float, elapsed_ms: float) -> int:
        """How many frames a row stands for: one, or in a sampled log as many as fit in
        the gap to the previous row (the typical gap for the first row, and for a row
        whose stamp does not move forward, as ``gearshift.frames.mangohud`` counts)."""
        gap_ms = elapsed_ms - self._last_elapsed_ms
        if math.isfinite(elapsed_ms):
            self._last_elapsed_ms = elapsed_ms
        if not self._sampled:
            return 1
        if not (math.isfinite(gap_ms) and gap_ms > 0):
            gap_ms = self._typical_gap_ms
        return max(1, round(min(gap_ms, MAX_ROW_SPAN_MS) / frame_ms))


def _numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _cell(cells: Sequence[str], index: int | None) -> float:
    return to_number(cells[index]) if index is not None and index < len(cells) else math.nan


class PresentMonRows:
    """Reads PresentMon's CSV output line by line and keeps the game's frame times.

    PresentMon traces every process that presents; the game is picked as
    ``Capture.select`` picks it from a file, but over the last seconds rather than the
    whole run: the process (name and id) with the most frames lately that is not the
    compositor (dwm.exe), or the one named. It changes only when another process has
    more than twice the frames of the one followed, so it does not flap.

    Args:
        process: follow only the process of this name (case ignored).
    """

    kind = presentmon.FORMAT

    def __init__(self, process: str | None = None) -> None:
        self._wanted = None if process is None else process.casefold()
        self.problem: str | None = None
        self.process: str | None = None
        self.pid: int | None = None
        self.dropped = 0
        """Rows without a usable frame time, or too short to reach it."""
        self._header: list[str] | None = None
        self._columns: tuple[int, int | None, int | None] | None = None
        self._activity: dict[tuple[str, int | None], float] = {}
        self._chosen: tuple[str, int | None] | None = None
        self._last_s: float | None = None

    def learn(self, lines: Sequence[str]) -> None:
        """Read the header among ``lines``; rows after it are old, skipped."""
        for line in lines:
            if self._header is None and line.strip():
                self._take_header(line)

    def frames(self, lines: Sequence[str], now_s: float) -> FrameTimes:
        """The followed process's frame times among the rows in ``lines``."""
        content = [line for line in lines if line.strip()]
        if self._header is None and content:
            self._take_header(content[0])
            content = content[1:]
        if self._columns is None or self.problem is not None:
            return np.empty(0)
        by_process = self._split(content)
        self._choose(by_process, now_s)
        chosen = by_process.get(self._chosen) if self._chosen is not None else None
        return np.array(chosen or (), dtype=np.float64)

    def _take_header(self, line: str) -> None:
        header = first_row(line)
        self._header = header
        if not presentmon.is_present_header(header):
            self.problem = (
                "is not PresentMon CSV output (its first line is not PresentMon's header)"
            )
            return
        frame = find_column(header, *presentmon.FRAME_TIME_COLUMNS)
        if frame is None:
            wanted = " or ".join(presentmon.FRAME_TIME_COLUMNS)
            self.problem = f"is PresentMon output with no frame-time column ({wanted})"
            return
        app = find_column(header, presentmon.APPLICATION_COLUMN)
        self._columns = (frame, app, find_column(header, "ProcessID"))

    def _split(self, lines: Sequence[str]) -> dict[tuple[str, int | None], list[float]]:
        assert self._columns is not None
        frame, app, pid = self._columns
        groups: dict[tuple[str, int | None], list[float]] = {}
        for row in csv.reader(lines):
            if row == self._header:
                continue  # PresentMon started again on the same pipe
            frame_ms = to_number(row[frame]) if frame < len(row) else math.nan
            if not (math.isfinite(frame_ms) and frame_ms > 0):
                self.dropped += 1
                continue
            name = (row[app].strip() if app is not None and app < len(row) else "") or (
                presentmon.UNNAMED_PROCESS
            )
            groups.setdefault((name, _pid(row, pid)), []).append(frame_ms)
        return groups

    def _choose(
        self, by_process: Mapping[tuple[str, int | None], list[float]], now_s: float
    ) -> None:
        elapsed_s = 0.0 if self._last_s is None else max(0.0, now_s - self._last_s)
        self._last_s = now_s
        fade = 0.5 ** (elapsed_s / ACTIVITY_HALF_LIFE_S)
        for key in list(self._activity):
            self._activity[key] *= fade
        for key, frames in by_process.items():
            self._activity[key] = self._activity.get(key, 0.0) + len(frames)
        self._activity = {k: v for k, v in self._activity.items() if v >= 0.01}

        candidates = [
            key
            for key in self._activity
            if self._wanted is None or key[0].casefold() == self._wanted
        ]
        games = [key for key in candidates if key[0].casefold() != COMPOSITOR]
        best = max(games or candidates, key=self._activity.__getitem__, default=None)
        current = self._activity.get(self._chosen, 0.0) if self._chosen else 0.0
        if best is not None and (current == 0.0 or self._activity[best] > 2.0 * current):
            if best != self._chosen:
                _log.info("PresentMon: following %s (pid %s)", best[0], best[1])
            self._chosen = best
        if self._chosen is not None:
            self.process, self.pid = self._chosen


def _pid(row: Sequence[str], index: int | None) -> int | None:
    if index is None or index >= len(row):
        return None
    text = row[index].strip()
    return int(text) if text.isdigit() else None


def _sniff_rows(lines: Sequence[str], process: str | None) -> _Rows | None:
    """The decoder for a followed input, from its first non-blank lines; None while
    they do not tell yet."""
    content = [line for line in lines if line.strip()]
    if not content:
        return None
    if presentmon.is_present_header(first_row(content[0])):
        return PresentMonRows(process)
    if mangohud.sniff(content):
        return MangoHudRows()
    return None


# ----------------------------------------------------------------- MangoHud's folders


def mangohud_config_files(env: Mapping[str, str], home: Path) -> list[Path]:
    """Every MangoHud configuration file a game may run with, most general last.

    MangoHud reads ``$MANGOHUD_CONFIGFILE`` when it is set; else the first file that
    exists of ``wine-<game>.conf`` and ``<game>.conf`` in ``$XDG_CONFIG_HOME/MangoHud``,
    ``MangoHud.conf`` beside the game, ``$XDG_CONFIG_HOME/MangoHud/MangoHud.conf``
    (and, in newer versions, ``/etc/MangoHud.conf``). Which game will run is not known
    here, so every per-game file is taken, and Steam's Flatpak folder too.
    """
    files: list[Path] = []
    configured = env.get("MANGOHUD_CONFIGFILE", "").strip()
    if configured:
        files.append(Path(configured).expanduser())
    config_home = Path(env.get("XDG_CONFIG_HOME", "").strip() or home / ".config")
    for folder in (config_home / "MangoHud", home / FLATPAK_STEAM_CONFIG / "MangoHud"):
        with contextlib.suppress(OSError):
            per_game = sorted(p for p in folder.glob("*.conf") if p.name != "MangoHud.conf")
            files.extend(p for p in per_game if p.name != "presets.conf")
        files.append(folder / "MangoHud.conf")
    files.append(SYSTEM_MANGOHUD_CONFIG)
    return files


def output_folder_option(lines: Iterable[str]) -> str | None:
    """The ``output_folder`` a MangoHud configuration file sets, or None."""
    folder = None
    for line in lines:
        key, _, value = line.split("#", 1)[0].partition("=")
        if key.strip() == "output_folder" and value.strip():
            folder = value.strip()
    return folder


def _env_output_folder(options: str) -> str | None:
    """The ``output_folder`` in $MANGOHUD_CONFIG (options split by , : or ;)."""
    folder = None
    for option in _OPTION_SEPARATORS.split(options):
        key, _, value = option.partition("=")
        if key.strip() == "output_folder" and value.strip():
            folder = value.strip().replace("\\", "")
    return folder


def mangohud_log_folders(
    env: Mapping[str, str] | None = None, home: Path | None = None
) -> tuple[Path, ...]:
    """The folders MangoHud writes its logs to, as its configuration says.

    $GEARSHIFT_MANGOHUD_DIR overrides everything. Otherwise every ``output_folder`` in
    $MANGOHUD_CONFIG and the configuration files (``mangohud_config_files``); with
    none set, MangoHud writes no log except mangoapp's (gamescope, the Steam Deck),
    which goes to the home folder, so that is watched.
    """
    env = os.environ if env is None else env
    home = Path(env.get("HOME", "") or Path.home()) if home is None else home
    override = env.get(MANGOHUD_DIR_ENV, "").strip()
    if override:
        return tuple(Path(part).expanduser() for part in override.split(os.pathsep) if part)

    found: list[str] = []
    options = env.get("MANGOHUD_CONFIG", "")
    if _env_output_folder(options):
        found.append(str(_env_output_folder(options)))
    for config in mangohud_config_files(env, home):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            folder = output_folder_option(config.read_text(encoding="utf-8").splitlines())
            if folder:
                found.append(folder)
    folders = [_expand_home(folder, home) for folder in found]
    absolute = [folder for folder in folders if folder.is_absolute()]
    return tuple(dict.fromkeys(absolute)) or (home,)


def _expand_home(folder: str, home: Path) -> Path:
    if folder == "~" or folder.startswith("~/"):
        return home / folder[2:]
    return Path(folder)


def find_pid(program: str) -> int | None:
    """The newest process named ``program`` (as MangoHud names its log), or None."""
    best: tuple[float, int] | None = None
    short = program[:15]  # the kernel keeps 15 characters of a process's name
    for process in psutil.process_iter(["name", "create_time"]):
        name = process.info.get("name") or ""
        if name == program or (len(program) > 15 and name == short):
            started = float(process.info.get("create_time") or 0.0)
            if best is None or started > best[0]:
                best = (started, process.pid)
    return None if best is None else best[1]


# ------------------------------------------------------------------ the file feeds


class MangoHudFeed:
    """Follows the newest MangoHud log in MangoHud's log folders.

    Args:
        folders: the folders to watch, or a function that finds them again
            (``mangohud_log_folders``), asked every ``CONFIG_REREAD_S``.
        pid_of: finds the game's process from the program name in the log's file name.
        wall_clock: seconds since the epoch, to tell a log written just now from an
            old one (file times are wall-clock times).
        scan_s: how often to look for a new log (``SCAN_S``).
    """

    kind = mangohud.FORMAT

    def __init__(
        self,
        folders: Sequence[Path] | Callable[[], Sequence[Path]] = mangohud_log_folders,
        *,
        pid_of: Callable[[str], int | None] = find_pid,
        wall_clock: Callable[[], float] = time.time,
        scan_s: float = SCAN_S,
    ) -> None:
        self._scan_s = scan_s
        self._find_folders = folders if callable(folders) else (lambda: tuple(folders))
        self._pid_of = pid_of
        self._wall_clock = wall_clock
        self.folders: tuple[Path, ...] = ()
        self._sizes: dict[Path, int] = {}
        self._tail: FileTail | None = None
        self._rows: MangoHudRows | None = None
        self._pid: int | None = None
        self._next_scan_s = -math.inf
        self._next_config_s = -math.inf

    @property
    def following(self) -> Path | None:
        """The log followed now."""
        return None if self._tail is None else self._tail.path

    @property
    def problem(self) -> str | None:
        """Why the followed log gives no frames, or None."""
        problem = None if self._rows is None else self._rows.problem
        return None if problem is None else f"{self.following} {problem}"

    @property
    def advice(self) -> str:
        """What to do for MangoHud to write a log here."""
        where = " or ".join(str(folder) for folder in self.folders) or "its output_folder"
        return (
            f"start a game with MangoHud logging to {where} (output_folder in "
            "~/.config/MangoHud/MangoHud.conf; log with Shift_L+F2, or autostart_log=1)"
        )

    def open(self) -> None:
        """Note the logs there are; follow one written in the last seconds."""
        self._reread_config(-math.inf)
        logs = self._logs()
        self._sizes = {path: size for path, (size, _mtime) in logs.items()}
        recent = [p for p, (_, mtime) in logs.items() if self._wall_clock() - mtime < RECENT_LOG_S]
        if recent:
            self._follow(max(recent, key=lambda p: logs[p][1]), from_end=True)

    def close(self) -> None:
        """Stop following."""
        if self._tail is not None:
            self._tail.close()

    def fileno(self) -> int | None:
        """Files are looked at on a schedule, never waited on."""
        return None

    def interval_s(self) -> float:
        """Read often while a log is followed; otherwise just look for one."""
        return FILE_POLL_S if self._tail is not None else self._scan_s

    def poll(self, now_s: float) -> FeedPoll:
        """Look for a new log (every ``scan_s``), then read the followed one."""
        if now_s >= self._next_scan_s:
            self._next_scan_s = now_s + self._scan_s
            self._reread_config(now_s)
            self._scan()
        if self._tail is None or self._rows is None:
            return FeedPoll(np.empty(0), "MangoHud logs")
        read = self._tail.read()
        if read.restarted:
            self._rows = MangoHudRows()
        self._rows.learn(read.head)
        frames = self._rows.frames(read.lines, now_s)
        return FeedPoll(frames, f"MangoHud log {self._tail.path.name}", self._pid, read.more)

    def _reread_config(self, now_s: float) -> None:
        if now_s < self._next_config_s:
            return
        self._next_config_s = now_s + CONFIG_REREAD_S
        folders = tuple(self._find_folders())
        if folders != self.folders:
            _log.info("watching for MangoHud logs in %s", ", ".join(map(str, folders)))
        self.folders = folders

    def _logs(self) -> dict[Path, tuple[int, float]]:
        logs: dict[Path, tuple[int, float]] = {}
        for folder in self.folders:
            with contextlib.suppress(OSError), os.scandir(folder) as entries:
                for entry in entries:
                    if _LOG_NAME.fullmatch(entry.name) and entry.is_file():
                        info = entry.stat()
                        logs[Path(entry.path)] = (info.st_size, info.st_mtime)
        return logs

    def _scan(self) -> None:
        """Follow the newest log that appeared since the previous scan (a game started
        logging), or, once the followed log stopped growing, the newest that grew."""
        logs = self._logs()
        fresh = [path for path in logs if path not in self._sizes]
        grown = [path for path, (size, _) in logs.items() if self._sizes.get(path, size) != size]
        self._sizes = {path: size for path, (size, _) in logs.items()}
        if fresh:
            candidates = fresh
        elif self.following in grown:
            return  # two games logging at once: stay with the one followed
        else:
            candidates = grown
        if candidates:
            newest = max(candidates, key=lambda path: logs[path][1])
            self._follow(newest, from_end=newest not in fresh)

    def _follow(self, path: Path, *, from_end: bool) -> None:
        _log.info("following MangoHud log %s", path)
        self.close()
        self._tail = FileTail(path, from_end=from_end)
        self._rows = MangoHudRows()
        self._pid = self._pid_of(mangohud.process_name(str(path)))


def check_follow_target(target: str, stdin: int) -> None:
    """Refuse a ``--follow`` target that can never give frames, before the app starts.

    A file that does not exist yet is fine: it is waited for.

    Raises:
        ValueError: standard input is closed or a terminal, or the path is a folder;
            the message says what to give instead.
    """
    if target == "-":
        if stdin < 0:
            raise ValueError(f"--follow -: standard input is closed; {PIPE_ADVICE}")
        if os.isatty(stdin):
            raise ValueError(
                f"--follow - reads a pipe, and standard input is a terminal; {PIPE_ADVICE}"
            )
    elif Path(target).is_dir():
        raise ValueError(
            f"--follow {target}: is a folder; give a PresentMon CSV file or a MangoHud log "
            "(MangoHud's log folder is watched without --follow)"
        )


class FollowFeed:
    """Follows one capture file or pipe the player named: PresentMon's CSV output or a
    MangoHud log, told apart by its first lines.

    Args:
        target: a file's path, or "-" for standard input.
        process: with PresentMon, follow the process of this name only.
        stdin: the descriptor "-" reads (a seam for tests).
    """

    def __init__(self, target: str, *, process: str | None = None, stdin: int = 0) -> None:
        self.target = target
        self._process = process
        self._stdin = stdin
        self._tail: FileTail | PipeTail | None = None
        self._sniffed: list[str] = []
        self._rows: _Rows | None = None
        self._problem: str | None = None

    @property
    def name(self) -> str:
        """The input as the player knows it."""
        return "standard input" if self.target == "-" else Path(self.target).name

    @property
    def kind(self) -> str:
        """PresentMon until the first lines show a MangoHud log."""
        return presentmon.FORMAT if self._rows is None else self._rows.kind

    @property
    def problem(self) -> str | None:
        """Why this input gives no frames, or None."""
        problem = self._problem or (None if self._rows is None else self._rows.problem)
        return None if problem is None else f"--follow {self.target}: {problem}"

    @property
    def advice(self) -> str:
        """What should write to the followed input."""
        return f"run PresentMon into {self.name} (or a game logging there with MangoHud)"

    def open(self) -> None:
        """Open the input. Raises OSError when standard input is a terminal."""
        if self.target != "-":
            path = Path(self.target)
            if path.exists() and stat.S_ISFIFO(path.stat().st_mode):
                # A FIFO opened without O_NONBLOCK waits for a writer: never in the reader.
                self._tail = PipeTail(os.open(path, os.O_RDONLY | os.O_NONBLOCK), owned=True)
                return
            self._tail = FileTail(path, from_end=path.is_file() and path.stat().st_size > 0)
            return
        if os.isatty(self._stdin):
            raise OSError(
                f"--follow - reads a pipe, and standard input is a terminal; {PIPE_ADVICE}"
            )
        self._tail = PipeTail(self._stdin)

    def close(self) -> None:
        """Close the input."""
        if self._tail is not None:
            self._tail.close()

    def fileno(self) -> int | None:
        """Read on a schedule."""
        return None

    def interval_s(self) -> float:
        """A followed input is read every ``FILE_POLL_S``."""
        return FILE_POLL_S

    def poll(self, now_s: float) -> FeedPoll:
        """Read what arrived; decide the format from the first lines."""
        if self._tail is None:
            return FeedPoll(np.empty(0), self._label())
        read = self._tail.read()
        if read.restarted:  # a new file: its first lines say again what it is
            self._rows, self._sniffed, self._problem = None, [], None
        lines = read.lines
        if self._rows is None:
            lines = self._sniff(read.head, lines)
        if self._rows is None:
            return FeedPoll(np.empty(0), self._label(), more=read.more)
        frames = self._rows.frames(lines, now_s)
        return FeedPoll(frames, self._label(), self._rows.pid, read.more)

    def _sniff(self, head: list[str], lines: list[str]) -> list[str]:
        """Gather lines until they show the format; return the lines left to read."""
        if head:
            self._rows = _sniff_rows(head, self._process)
            if self._rows is not None:
                self._rows.learn(head)
                return lines
        self._sniffed.extend(lines)
        self._rows = _sniff_rows(self._sniffed, self._process)
        if self._rows is not None:
            lines, self._sniffed = self._sniffed, []
            return lines
        if sum(1 for line in self._sniffed if line.strip()) >= SNIFF_LINES:
            self._problem = "is neither PresentMon CSV output nor a MangoHud log"
            self._sniffed = []
        return []

    def _label(self) -> str:
        if self._rows is None or self._rows.kind == presentmon.FORMAT:
            what = f"PresentMon ({self.name})"
        else:
            what = f"MangoHud log {self.name}"
        process = None if self._rows is None else self._rows.process
        return f"{what}: {process}" if process else what
