"""Live sources: a growing MangoHud log, PresentMon's output and the ingest socket.

Logs are written by the tests into tmp_path as a game would write them: in pieces cut
anywhere (mid-line included), truncated, replaced. Looks are driven by hand (``poll``
with a chosen time) wherever the logic allows, so nothing waits on a clock; the tests of
the reader thread wait on deadlines, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import socket
import stat
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from gearshift.frames import follow, live
from gearshift.frames.follow import (
    FollowFeed,
    MangoHudFeed,
    MangoHudRows,
    PresentMonRows,
    mangohud_log_folders,
)
from gearshift.frames.ingest import (
    IngestAddress,
    IngestFeed,
    IngestInUseError,
    default_address,
    parse_datagram,
)
from gearshift.frames.live import LiveSources, live_sources
from gearshift.frames.registry import read_capture
from gearshift.frames.sources import FeedPoll
from gearshift.frames.tail import FileTail, PipeTail
from tests.fakes.clock import FakeClock

SYSTEM_INFO = [
    "os,cpu,gpu,ram,kernel,driver,cpuscheduler",
    # A comma inside a value, as MangoHud writes GPU names: must not shift the data.
    "Arch,AMD Ryzen 7 5800X,AMD Radeon RX 580 (POLARIS10, DRM 3.40.0),32,6.1,Mesa,",
]
HEADER_07 = "fps,frametime,cpu_load,gpu_load,elapsed"

PRESENTMON_HEADER = (
    "Application,ProcessID,SwapChainAddress,Runtime,SyncInterval,PresentFlags,"
    "AllowsTearing,PresentMode,Dropped,TimeInSeconds,MsBetweenPresents,"
    "MsBetweenDisplayChange,MsInPresentAPI,MsUntilRenderComplete,MsUntilDisplayed"
)


def pm_row(app: str, pid: int, ms: float, t: float = 0.0) -> str:
    return f"{app},{pid},0x1,DXGI,0,0,1,Hardware: Independent Flip,0,{t},{ms},{ms},0.1,1.0,2.0"


def rows_07(frames_ms: list[float], *, interval_ms: float | None = None) -> list[str]:
    """MangoHud 0.7 rows; per frame unless ``interval_ms`` makes the log sampled."""
    lines, elapsed_ms = [], 0.0
    for frame_ms in frames_ms:
        elapsed_ms += interval_ms if interval_ms is not None else frame_ms
        lines.append(f"{1000 / frame_ms:.3f},{frame_ms},20,90,{int(elapsed_ms * 1e6)}")
    return lines


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8", newline="") as log:
        log.write(text)


def deadline(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait until ``condition()`` holds, looking every few milliseconds."""
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


# ------------------------------------------------------------------------ the tail


def test_a_partly_written_line_waits_for_its_end(tmp_path: Path) -> None:
    log = tmp_path / "game.csv"
    log.write_text("a,b\nc,")
    tail = FileTail(log)
    first = tail.read()
    assert first.lines == ["a,b"] and first.restarted
    assert tail.read().lines == []
    append(log, "d\r\ne")
    assert tail.read().lines == ["c,d"]


def test_a_truncated_file_is_read_again_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "game.csv"
    log.write_text("one\ntwo\nthree\n")
    tail = FileTail(log)
    assert tail.read().lines == ["one", "two", "three"]
    log.write_text("new\n")  # shorter than what was read: truncated and rewritten
    read = tail.read()
    assert read.restarted and read.lines == ["new"] and tail.restarts == 1


def test_a_replaced_file_is_drained_then_the_new_one_followed(tmp_path: Path) -> None:
    log = tmp_path / "game.csv"
    log.write_text("old 1\n")
    tail = FileTail(log)
    assert tail.read().lines == ["old 1"]
    append(log, "old 2\n")
    log.rename(tmp_path / "game.csv.1")  # rotated: the old file lives on elsewhere
    log.write_text("new 1\n")
    assert tail.read().lines == ["old 2"]  # the rest of the old file first
    read = tail.read()
    assert read.restarted and read.lines == ["new 1"]


def test_from_the_end_hands_the_header_over_but_not_old_rows(tmp_path: Path) -> None:
    log = tmp_path / "game.csv"
    log.write_text("header\nold row\nrow being writ")
    tail = FileTail(log, from_end=True)
    append(log, "ten\nnew row\n")
    read = tail.read()
    # The row being written as following started is the newest: it is taken.
    assert read.head == ["header", "old row"] and read.lines == ["row being written", "new row"]


def test_a_file_that_is_not_there_yet_is_waited_for(tmp_path: Path) -> None:
    tail = FileTail(tmp_path / "later.csv")
    assert tail.read().lines == []
    (tmp_path / "later.csv").write_text("here\n")
    assert tail.read().lines == ["here"]


def test_a_pipe_is_read_without_blocking() -> None:
    reader, writer = os.pipe()
    tail = PipeTail(reader)
    try:
        assert tail.read().lines == []  # nothing written: returns at once
        os.write(writer, b"\xef\xbb\xbfApplication,ProcessID\nrow,1\npart")
        assert tail.read().lines == ["Application,ProcessID", "row,1"]  # BOM removed
        os.close(writer)
        assert tail.read().lines == [] and tail.ended
    finally:
        tail.close()
        os.close(reader)


# ------------------------------------------------------------------ MangoHud rows


def test_mangohud_per_frame_rows_are_frames() -> None:
    rows = MangoHudRows()
    frames = [4.0, 5.0, 6.0, 4.5, 5.5, 7.0]
    got = rows.frames([*SYSTEM_INFO, HEADER_07, *rows_07(frames)], now_s=0.0)
    assert got.tolist() == frames and rows.problem is None


def test_mangohud_rows_are_held_until_sampling_is_decided() -> None:
    rows = MangoHudRows()
    lines = rows_07([4.0] * 8, interval_ms=100.0)
    assert rows.frames([*SYSTEM_INFO, HEADER_07, *lines[:4]], now_s=0.0).size == 0
    got = rows.frames(lines[4:], now_s=0.1)
    # Sampled: each 100 ms row stands for 25 frames of 4 ms, the first row too.
    assert got.size == 8 * 25 and set(got.tolist()) == {4.0}


def test_mangohud_06_frame_times_in_microseconds() -> None:
    rows = MangoHudRows()
    lines = [f"{1e6 / us:.1f},{us},10,20,{i * us * 1000}" for i, us in enumerate([6944] * 6, 1)]
    got = rows.frames([*SYSTEM_INFO, "fps,frametime,cpu_load,gpu_load,elapsed", *lines], 0.0)
    assert np.allclose(got, 6.944)


def test_mangohud_05_frame_time_from_fps_and_elapsed_in_microseconds() -> None:
    rows = MangoHudRows()
    header = "fps,cpu_load,gpu_load,cpu_temp,gpu_temp,elapsed"
    lines = [f"200,10,20,50,60,{i * 100_000}" for i in range(1, 7)]  # 100 ms rows
    got = rows.frames([*SYSTEM_INFO, header, *lines], 0.0)
    assert got.size == 6 * 20 and set(got.tolist()) == {5.0}


def test_mangohud_banners_are_skipped_and_other_files_refused() -> None:
    rows = MangoHudRows()
    banner = ["v1", "0.7.2", "--------------------- SYSTEM INFO ---------------------"]
    metrics = "--------------------- FRAME METRICS ---------------------"
    got = rows.frames([*banner, *SYSTEM_INFO, metrics, HEADER_07, *rows_07([4.0] * 5)], 0.0)
    assert got.size == 5

    notes = MangoHudRows()
    assert notes.frames(["name,score", "ann,3", "bob,4"], 0.0).size == 0
    assert notes.problem is not None and "not a MangoHud log" in notes.problem


@pytest.mark.parametrize(
    "name", ["mangohud_0.8_overwatch_rx9070xt_run1.csv", "mangohud_0.4_issue287_excerpt.csv"]
)
def test_shared_mangohud_logs_followed_while_written_last_as_long_as_read(
    shared_captures: Path, tmp_path: Path, name: str
) -> None:
    """A real log written in pieces cut at arbitrary bytes covers, frame by frame, the
    time the offline reader says the whole log covers."""
    data = (shared_captures / name).read_bytes()
    log = tmp_path / "overwatch_2025-11-30_20-10-00.csv"
    log.write_bytes(b"")
    feed = MangoHudFeed([tmp_path], pid_of=lambda _name: None)
    feed.open()
    cuts = np.random.default_rng(3).integers(0, len(data), 40)
    got = []
    edges = [0, *sorted(cuts), len(data)]
    for step, (start, end) in enumerate(itertools.pairwise(edges)):
        with log.open("ab") as out:
            out.write(data[start:end])
        got.append(feed.poll(now_s=step * 0.1).frames_ms)
    frames = np.concatenate(got)

    expected = read_capture(shared_captures / name).select(None)
    expected_s = expected.duration_s or float(expected.frame_times_ms.sum()) / 1000
    assert feed.following == log
    assert frames.sum() / 1000 == pytest.approx(expected_s, rel=0.02)


# ------------------------------------------------------------------ MangoHud feed


def mangohud_log(folder: Path, game: str, stamp: str = "2025-11-30_20-10-00") -> Path:
    path = folder / f"{game}_{stamp}.csv"
    path.write_text("\n".join([*SYSTEM_INFO, HEADER_07, ""]))
    return path


def test_the_newest_log_is_followed_when_a_game_starts(tmp_path: Path) -> None:
    old = mangohud_log(tmp_path, "old", "2020-01-01_10-00-00")
    append(old, "\n".join(rows_07([9.0] * 6)) + "\n")
    os.utime(old, (1.0, 1.0))  # written long ago: no game runs it now
    (tmp_path / "old_2020-01-01_10-00-00_summary.csv").write_text("0.1% Min FPS\n1\n")
    feed = MangoHudFeed([tmp_path], pid_of={"cs2": 4242}.get)
    feed.open()
    assert feed.poll(0.0).frames_ms.size == 0 and feed.following is None

    game = mangohud_log(tmp_path, "cs2")
    first = feed.poll(1.0)
    assert feed.following == game and first.pid == 4242
    append(game, "\n".join(rows_07([4.0, 5.0, 6.0, 4.0, 5.0, 6.0])) + "\n4.0,")
    got = feed.poll(1.1)
    assert got.frames_ms.tolist() == [4.0, 5.0, 6.0, 4.0, 5.0, 6.0]
    assert got.label == f"MangoHud log {game.name}"

    later = mangohud_log(tmp_path, "dota2", "2025-11-30_21-00-00")
    feed.poll(2.5)  # the next scan: another game started logging
    assert feed.following == later


def test_two_games_logging_at_once_do_not_make_the_feed_flap(tmp_path: Path) -> None:
    feed = MangoHudFeed([tmp_path], pid_of=lambda _name: None)
    feed.open()
    first = mangohud_log(tmp_path, "first", "2025-11-30_20-00-00")
    feed.poll(0.0)
    second = mangohud_log(tmp_path, "second", "2025-11-30_20-05-00")
    feed.poll(1.0)
    assert feed.following == second  # a game that starts logging is followed
    for now_s in (2.0, 3.0):
        append(first, "\n".join(rows_07([4.0] * 5)) + "\n")
        append(second, "\n".join(rows_07([5.0] * 5)) + "\n")
        feed.poll(now_s)
        assert feed.following == second  # both grow: stay with the one followed
    append(first, "\n".join(rows_07([4.0] * 5)) + "\n")
    feed.poll(4.0)
    assert feed.following == first  # the followed one stopped; the other goes on


def test_a_log_being_written_at_start_is_followed_from_its_end(tmp_path: Path) -> None:
    running = mangohud_log(tmp_path, "cs2")
    append(running, "\n".join(rows_07([9.0] * 6)) + "\n")
    feed = MangoHudFeed([tmp_path], pid_of=lambda _name: None)
    feed.open()
    assert feed.following == running
    append(running, "\n".join(rows_07([4.0] * 6)) + "\n")
    assert feed.poll(0.0).frames_ms.tolist() == [4.0] * 6  # the old 9 ms rows are history


def test_a_truncated_log_is_read_again_with_its_new_header(tmp_path: Path) -> None:
    feed = MangoHudFeed([tmp_path], pid_of=lambda _name: None)
    feed.open()
    game = mangohud_log(tmp_path, "cs2")
    append(game, "\n".join(rows_07([4.0] * 6)) + "\n")
    assert feed.poll(0.0).frames_ms.size == 6
    # Logging again to the same name starts the file over, header first.
    game.write_text("\n".join([*SYSTEM_INFO, HEADER_07, *rows_07([8.0] * 5)]) + "\n")
    assert feed.poll(0.1).frames_ms.tolist() == [8.0] * 5


def test_mangohud_folders_come_from_its_configuration(tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = home / ".config" / "MangoHud"
    config.mkdir(parents=True)
    (config / "MangoHud.conf").write_text(
        "fps\n# output_folder=/not/this\noutput_folder = ~/logs\n"
    )
    (config / "wine-Game.conf").write_text("output_folder=/srv/mangologs # per game\n")
    (config / "presets.conf").write_text("[preset 1]\noutput_folder=/not/presets\n")
    env = {"HOME": str(home), "MANGOHUD_CONFIG": "fps,output_folder=/tmp/fromenv,gpu_stats"}
    assert mangohud_log_folders(env) == (
        Path("/tmp/fromenv"),
        Path("/srv/mangologs"),
        home / "logs",
    )
    custom = tmp_path / "custom.conf"
    custom.write_text("output_folder=/opt/custom\n")
    env = {"HOME": str(home), "MANGOHUD_CONFIGFILE": str(custom), "XDG_CONFIG_HOME": "/none"}
    assert mangohud_log_folders(env) == (Path("/opt/custom"),)


def test_without_an_output_folder_the_home_folder_is_watched(tmp_path: Path) -> None:
    assert mangohud_log_folders({"HOME": str(tmp_path)}) == (tmp_path,)
    env = {"HOME": str(tmp_path), follow.MANGOHUD_DIR_ENV: f"/a{os.pathsep}/b"}
    assert mangohud_log_folders(env) == (Path("/a"), Path("/b"))


# --------------------------------------------------------------------- PresentMon


def test_presentmon_follows_the_game_not_the_compositor() -> None:
    rows = PresentMonRows()
    lines = [PRESENTMON_HEADER]
    for i in range(30):
        lines += [pm_row("dwm.exe", 900, 16.7, i), pm_row("cs2.exe", 4242, 3.0, i)]
        lines += [pm_row("dwm.exe", 900, 16.7, i)] * 2
    got = rows.frames(lines, now_s=0.0)
    assert got.tolist() == [3.0] * 30 and (rows.process, rows.pid) == ("cs2.exe", 4242)


def test_presentmon_moves_to_a_new_game_only_when_it_clearly_leads() -> None:
    rows = PresentMonRows()
    rows.frames([PRESENTMON_HEADER, *[pm_row("a.exe", 1, 5.0)] * 50], now_s=0.0)
    # b.exe comes along, a little busier: no flapping, a.exe stays followed.
    got = rows.frames([*[pm_row("a.exe", 1, 5.0)] * 50, *[pm_row("b.exe", 2, 4.0)] * 60], 0.1)
    assert rows.process == "a.exe" and got.tolist() == [5.0] * 50
    # a.exe quit; seconds later b.exe is the game.
    got = rows.frames([pm_row("b.exe", 2, 4.0)] * 250, now_s=10.0)
    assert (rows.process, rows.pid) == ("b.exe", 2) and got.size == 250


def test_presentmon_from_a_pipe(tmp_path: Path) -> None:
    reader, writer = os.pipe()
    feed = FollowFeed("-", stdin=reader)
    feed.open()
    try:
        os.write(writer, (PRESENTMON_HEADER + "\n" + pm_row("cs2.exe", 7, 3.5)).encode())
        assert feed.poll(0.0).frames_ms.size == 0  # the row is not finished yet
        os.write(writer, ("\n" + pm_row("cs2.exe", 7, 4.5) + "\n").encode())
        got = feed.poll(0.1)
        assert got.frames_ms.tolist() == [3.5, 4.5] and got.pid == 7
        assert got.label == "PresentMon (standard input): cs2.exe"
        assert feed.kind == "presentmon"
    finally:
        feed.close()
        os.close(writer)
        os.close(reader)


def test_follow_refuses_a_terminal_and_names_what_is_not_a_capture(tmp_path: Path) -> None:
    primary, secondary = os.openpty()
    try:
        with pytest.raises(OSError, match="standard input is a terminal"):
            FollowFeed("-", stdin=secondary).open()
    finally:
        os.close(primary)
        os.close(secondary)

    notes = tmp_path / "notes.txt"
    notes.write_text("".join(f"line {i}\n" for i in range(20)))
    feed = FollowFeed(str(notes))
    feed.open()
    feed.poll(0.0)  # a file that holds text already: followed from its end, head sniffed
    append(notes, "".join(f"more {i}\n" for i in range(20)))
    feed.poll(0.1)
    assert feed.problem is not None and "neither PresentMon" in feed.problem


@pytest.mark.parametrize("name", ["presentmon_1x_csgo.csv", "presentmon_2x_gold_test_case_5.csv"])
def test_shared_presentmon_captures_piped_give_the_readers_frames(
    shared_captures: Path, name: str
) -> None:
    """What PresentMon writes into a pipe gives the frames its file gives, but for a last
    row with no newline, which is waited for (presentmon_1x_csgo.csv ends so)."""
    data = (shared_captures / name).read_bytes()
    reader, writer = os.pipe()
    os.set_blocking(writer, False)
    feed = FollowFeed("-", stdin=reader)
    feed.open()
    got, sent = [], 0
    try:
        while sent < len(data) or not got or got[-1].size:
            sent += os.write(writer, data[sent : sent + 60_000]) if sent < len(data) else 0
            got.append(feed.poll(sent / 1e6).frames_ms)
    finally:
        feed.close()
        os.close(writer)
        os.close(reader)

    expected = read_capture(shared_captures / name).select(None).frame_times_ms
    frames = np.concatenate(got)
    unfinished = 0 if data.endswith(b"\n") else 1
    assert np.array_equal(frames, expected[: expected.size - unfinished])


# ---------------------------------------------------------------- ingest datagrams


@pytest.mark.parametrize(
    ("datagram", "pid", "frames"),
    [
        (b"GS1 4242 6.94", 4242, [6.94]),
        (b"GS1 0 4 4.5 1e1\n", 0, [4.0, 4.5, 10.0]),
        (b"GSB1" + struct.pack("<I2f", 77, 2.5, 8.0), 77, [2.5, 8.0]),
    ],
)
def test_well_formed_datagrams(datagram: bytes, pid: int, frames: list[float]) -> None:
    parsed = parse_datagram(datagram)
    assert parsed is not None and parsed.pid == pid
    assert parsed.frames_ms == pytest.approx(frames)


@pytest.mark.parametrize(
    "datagram",
    [
        b"",
        b"GS1",
        b"GS1 4242",
        b"GS1 -1 5",
        b"GS1 42x 5",
        b"GS1 1_0 5",
        b"GS1 1 nan",
        b"GS1 1 inf",
        b"GS1 1 0",
        b"GS1 1 -4",
        b"GS1 1 5 abc",
        b"GS1 1 99999999",
        b"GS2 1 5",
        b"GS1 99999999999 5",
        b"GS1 1 " + b"5 " * 1025,
        b"GSB1" + struct.pack("<I", 5),
        b"GSB1" + struct.pack("<I", 5) + b"\x00\x00",
        b"GSB1" + struct.pack("<If", 5, float("nan")),
        b"GSB1" + struct.pack("<If", 5, -1.0),
        b"\x00\xff\xfe",
    ],
)
def test_malformed_datagrams_are_refused_whole(datagram: bytes) -> None:
    assert parse_datagram(datagram) is None


# ------------------------------------------------------------------- ingest socket


@pytest.fixture
def ingest_feed(tmp_path: Path) -> Iterator[IngestFeed]:
    feed = IngestFeed(IngestAddress(tmp_path / "run" / "ingest.sock"), name_of=lambda _p: "game")
    feed.open()
    yield feed
    feed.close()


def sender() -> socket.socket:
    out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    out.setblocking(False)
    return out


def test_the_socket_is_private(ingest_feed: IngestFeed) -> None:
    path = ingest_feed.address.path
    assert path is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_valid_and_malformed_datagrams_are_counted(ingest_feed: IngestFeed) -> None:
    target = str(ingest_feed.address.path)
    with sender() as out:
        out.sendto(b"GS1 1 4.0 5.0", target)
        out.sendto(b"GS1 one 4.0", target)
        out.sendto(b"hello", target)
        out.sendto(b"GSB1" + struct.pack("<I1f", 1, 6.0), target)
        got = ingest_feed.poll(1.0)
    assert got.frames_ms.tolist() == [4.0, 5.0, 6.0]
    # The kernel's word on the sender wins over the pid written in the datagram.
    assert got.pid == os.getpid() and got.label == f"ingest socket: game (pid {os.getpid()})"
    counters = ingest_feed.counters
    assert (counters.datagrams, counters.malformed, counters.frames) == (4, 2, 3)


def test_a_flood_is_read_in_bounded_looks_and_rate_limited(tmp_path: Path) -> None:
    feed = IngestFeed(
        IngestAddress(tmp_path / "ingest.sock"), max_frames_per_s=100, max_datagrams_per_poll=4
    )
    feed.open()
    try:
        with sender() as out:
            sent = 0
            with pytest.raises(BlockingIOError):  # the kernel's queue fills: the
                while True:  # sender is refused, never blocked
                    out.sendto(b"GS1 1 " + b"1 " * 50, str(feed.address.path))
                    sent += 1
        first = feed.poll(now_s=0.0)
        assert first.more and feed.counters.datagrams == 4
        assert first.frames_ms.size == 100  # a second's worth of burst
        while feed.poll(now_s=0.5).more:
            pass
        counters = feed.counters
        assert counters.datagrams == sent and counters.frames == 100 + 50
        assert counters.rate_limited == sent * 50 - 150 and counters.capped_polls >= 1
    finally:
        feed.close()


def test_one_sender_is_followed_at_a_time() -> None:
    # Over loopback UDP the kernel names no sender, so the declared pid counts.
    feed = IngestFeed(IngestAddress(None, port=0))
    feed.open()
    got: list[FeedPoll] = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            address = (feed.address.host, feed.address.port)
            out.sendto(b"GS1 100 5", address)
            out.sendto(b"GS1 200 6 6", address)
            deadline(lambda: bool(got.append(feed.poll(1.0))) or feed.counters.datagrams == 2)
            assert np.concatenate([p.frames_ms for p in got]).tolist() == [5.0]
            assert feed.counters.other_senders == 2 and got[-1].pid == 100

            out.sendto(b"GS1 200 7", address)  # pid 100 has been silent for 1.5 s
            deadline(lambda: bool(got.append(feed.poll(2.5))) or feed.counters.datagrams == 3)
            assert got[-1].frames_ms.tolist() == [7.0] and got[-1].pid == 200
    finally:
        feed.close()


def test_a_stale_socket_is_replaced_and_a_live_one_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "ingest.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(str(path))
    with pytest.raises(IngestInUseError, match="another program listens"):
        IngestFeed(IngestAddress(path)).open()
    stale.close()  # its owner is gone, its file stays
    feed = IngestFeed(IngestAddress(path))
    feed.open()
    feed.close()
    assert not path.exists()


def test_where_the_socket_is(tmp_path: Path) -> None:
    assert default_address({"GEARSHIFT_INGEST_SOCKET": "/x/in.sock"}).path == Path("/x/in.sock")
    beside = default_address({"GEARSHIFT_SOCKET": str(tmp_path / "control.sock")})
    assert beside.path == tmp_path / "ingest.sock"
    udp = default_address({"GEARSHIFT_INGEST_SOCKET": "udp:127.0.0.1:5000"})
    assert (udp.path, udp.host, udp.port) == (None, "127.0.0.1", 5000)
    with pytest.raises(ValueError, match="not an address"):
        default_address({"GEARSHIFT_INGEST_SOCKET": "udp:nowhere"})


# ------------------------------------------------------------------ live sources


class ScriptedFeed:
    """A feed that hands over what the test gives it, one batch a look."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.advice = f"start {kind}"
        self.problem: str | None = None
        self.pending: list[list[float]] = []
        self.opened = 0
        self.closed = 0

    def open(self) -> None:
        self.opened += 1

    def close(self) -> None:
        self.closed += 1

    def fileno(self) -> int | None:
        return None

    def interval_s(self) -> float:
        return 0.0

    def poll(self, now_s: float) -> FeedPoll:
        frames = self.pending.pop(0) if self.pending else []
        return FeedPoll(np.array(frames, dtype=np.float64), f"{self.kind} game", pid=1)


def test_the_feed_with_frames_is_live_and_the_others_wait() -> None:
    log, socket_feed = ScriptedFeed("mangohud"), ScriptedFeed("ingest")
    sources = LiveSources([log, socket_feed], threaded=False, live_timeout_s=1.0)
    sources.poll_feeds(0.0)
    assert sources.hand_over(0.0).size == 0
    waiting = sources.status()
    assert waiting.state == "waiting" and waiting.advice == ("start mangohud", "start ingest")

    log.pending = [[5.0, 5.0]]
    sources.poll_feeds(0.1)
    assert sources.hand_over(0.1).tolist() == [5.0, 5.0]
    socket_feed.pending = [[2.0]]  # a second game: its frames are not mixed in
    log.pending = [[5.0]]
    sources.poll_feeds(0.2)
    assert sources.hand_over(0.2).tolist() == [5.0]
    live_now = sources.status()
    assert (live_now.state, live_now.kind, live_now.label) == ("live", "mangohud", "mangohud game")
    assert live_now.fps == pytest.approx(200.0) and sources.pid == 1
    assert sources.counters()["ignored"] == 1

    socket_feed.pending = [[2.0]]
    sources.poll_feeds(1.5)  # the log has been quiet past the timeout
    assert sources.hand_over(1.5).tolist() == [2.0]
    assert sources.status().kind == "ingest"
    sources.poll_feeds(3.0)
    sources.hand_over(3.0)
    assert sources.status().state == "waiting" and sources.label == live.WAITING_LABEL


def test_a_feed_turned_off_is_closed_and_said_so() -> None:
    feed = ScriptedFeed("ingest")
    sources = LiveSources(
        [feed], threaded=False, off_notes={"ingest": "off in the settings"}, disabled=["ingest"]
    )
    sources.poll_feeds(0.0)
    assert feed.opened == 0 and sources.status().problems == ("off in the settings",)
    assert sources.status().advice == ()
    sources.enable("ingest", True)
    sources.poll_feeds(0.1)
    assert feed.opened == 1 and sources.status().problems == ()
    sources.enable("ingest", False)
    sources.poll_feeds(0.2)
    assert feed.closed == 1


def test_hand_overs_keep_a_fixed_schedule_when_woken_late() -> None:
    clock = FakeClock(start_s=0.0)
    asked: list[float] = []

    async def late_sleep(seconds: float) -> None:
        asked.append(round(seconds, 6))
        clock.advance(seconds + (0.25 if len(asked) == 3 else 0.03))  # once very late

    feed = ScriptedFeed("ingest")
    feed.pending = [[5.0]] * 10
    sources = LiveSources(
        [feed], threaded=False, tick_s=0.1, clock=clock, sleep=late_sleep, live_timeout_s=9
    )

    async def take(batches: int) -> None:
        stream = sources.batches()
        for _ in range(batches):
            await stream.__anext__()
        await stream.aclose()

    asyncio.run(take(5))
    # The first wait is a waiting one (0.25 s: nothing is live yet), then 0.1 s ticks
    # at 0.35, 0.45, ... each wait shortened by the last wake-up's lateness; the ticks
    # the very late wake-up (at 0.70) missed, 0.55 and 0.65, are skipped, not caught up.
    assert asked == [0.25, 0.07, 0.07, 0.05, 0.07]


def test_the_app_falling_behind_drops_the_oldest_frames() -> None:
    feed = ScriptedFeed("ingest")
    sources = LiveSources([feed], threaded=False)
    burst = live.MAX_QUEUED_FRAMES // 2 + 1
    feed.pending = [[1.0] * burst, [2.0] * burst, [3.0] * burst]
    for now_s in (0.0, 0.1, 0.2):
        sources.poll_feeds(now_s)
    got = sources.hand_over(0.3)
    assert got.size == live.MAX_QUEUED_FRAMES and got[-1] == 3.0 and 1.0 not in got
    assert sources.counters()["queued"] == 3 * burst - live.MAX_QUEUED_FRAMES


def test_live_sources_read_the_socket_in_their_own_thread(tmp_path: Path) -> None:
    """The app's own assembly, with the reader thread: frames sent to the socket come out
    of ``batches``; the socket closes with the source."""
    env = {
        "GEARSHIFT_INGEST_SOCKET": str(tmp_path / "ingest.sock"),
        follow.MANGOHUD_DIR_ENV: str(tmp_path),
        "HOME": str(tmp_path),
    }
    sources = live_sources(env=env)

    async def run() -> list[float]:
        received: list[float] = []
        stream = sources.batches()
        first = asyncio.ensure_future(stream.__anext__())
        with sender() as out:
            end = time.monotonic() + 5
            while not first.done() and time.monotonic() < end:
                if (tmp_path / "ingest.sock").exists():
                    with contextlib.suppress(BlockingIOError):
                        out.sendto(b"GS1 0 4", str(tmp_path / "ingest.sock"))
                await asyncio.sleep(0.01)
            received += (await first).tolist()
        await stream.aclose()
        return received

    received = asyncio.run(run())
    assert received and set(received) == {4.0}
    status = sources.status()
    assert status.state == "live" and status.kind == "ingest" and status.pid == os.getpid()
    assert not (tmp_path / "ingest.sock").exists()


# ------------------------------------------------------------- the documented senders

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ingest.md"


def documented(language: str) -> str:
    """The example sender in docs/ingest.md written in ``language``."""
    text = DOCS.read_text(encoding="utf-8")
    return text.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def received(feed: IngestFeed, datagrams: int) -> FeedPoll:
    """What ``feed`` read once ``datagrams`` datagrams arrived, as one look."""
    polls: list[FeedPoll] = []
    deadline(lambda: bool(polls.append(feed.poll(0.0))) or feed.counters.datagrams >= datagrams)
    frames = np.concatenate([poll.frames_ms for poll in polls])
    return FeedPoll(frames, polls[-1].label, polls[-1].pid)


@pytest.fixture
def runtime_feed(tmp_path: Path) -> Iterator[tuple[IngestFeed, Path]]:
    """An ingest socket where the examples look: $XDG_RUNTIME_DIR/gearshift."""
    feed = IngestFeed(IngestAddress(tmp_path / "gearshift" / "ingest.sock"))
    feed.open()
    yield feed, tmp_path
    feed.close()


def test_the_documented_python_sender_works(
    runtime_feed: tuple[IngestFeed, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed, runtime = runtime_feed
    code = documented("python")
    assert len(code.splitlines()) == 5
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    example: dict[str, object] = {}
    exec(code, example)  # the documented sample, run as written
    frame_done, gs = example["frame_done"], example["gs"]
    assert callable(frame_done) and isinstance(gs, socket.socket)
    with gs:
        frame_done(6.944)
        frame_done(7.5)
    got = received(feed, 2)
    assert got.frames_ms.tolist() == [6.944, 7.5] and got.pid == os.getpid()


def test_the_documented_c_sender_works(runtime_feed: tuple[IngestFeed, Path]) -> None:
    compiler = next((c for c in ("cc", "gcc", "clang") if shutil.which(c)), None)
    if compiler is None:
        pytest.skip("no C compiler here")
    feed, runtime = runtime_feed
    body = documented("c")
    assert len(body.splitlines()) == 5
    source = runtime / "sender.c"
    source.write_text(
        "#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n"
        "#include <sys/socket.h>\n#include <sys/un.h>\n"
        + body
        + "int main(void) { frame_done(4.25); frame_done(16.5); return 0; }\n"
    )
    program = runtime / "sender"
    subprocess.run(
        [
            compiler,
            "-std=c11",
            "-D_DEFAULT_SOURCE",
            "-Wall",
            "-Werror",
            "-o",
            str(program),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    sender_run = subprocess.run([str(program)], env={"XDG_RUNTIME_DIR": str(runtime)}, check=True)
    assert sender_run.returncode == 0
    got = received(feed, 2)
    assert got.frames_ms.tolist() == [4.25, 16.5] and feed.counters.malformed == 0
