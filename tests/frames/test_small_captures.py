"""The capture readers against small hand-written files: layouts with no real sample."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from gearshift.core.errors import (
    CaptureError,
    EmptyCaptureError,
    MalformedCaptureError,
    MissingColumnError,
    ProcessNotFoundError,
    UnknownFormatError,
)
from gearshift.frames.registry import read_capture

MANGOHUD_SYSTEM = (
    "os,cpu,gpu,ram,kernel,driver\nArch Linux,Ryzen 5 3600,RX 580,16310556,5.10.7,Mesa 20.3\n"
)
MANGOHUD_06_HEADER = (
    "fps,frametime,cpu_load,gpu_load,cpu_temp,gpu_temp,gpu_core_clock,gpu_mem_clock,"
    "gpu_vram_used,gpu_power,ram_used,elapsed\n"
)
PRESENTMON_V1_METRICS = (
    "Application,ProcessID,SwapChainAddress,Runtime,SyncInterval,PresentFlags,AllowsTearing,"
    "PresentMode,Dropped,TimeInSeconds,msInPresentAPI,msBetweenPresents,msBetweenDisplayChange,"
    "msUntilRenderComplete,msUntilDisplayed\n"
)
PRESENTMON_ROW = (
    "game.exe,100,0x1,DXGI,0,0,1,Hardware: Independent Flip,0,{t},0.2,{ms},{ms},1.0,2.0\n"
)


def write(tmp_path: Path, text: str | bytes, name: str = "capture.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode("utf-8"))
    return path


def presentmon_v1(frame_times_ms: list[str]) -> str:
    rows = (PRESENTMON_ROW.format(t=i / 100, ms=ms) for i, ms in enumerate(frame_times_ms))
    return PRESENTMON_V1_METRICS + "".join(rows)


def mangohud_06_row(fps: float, frametime_us: int, elapsed_ns: int) -> str:
    return f"{fps},{frametime_us},20,95,55,65,1340,2000,2.5,120,7.9,{elapsed_ns}\n"


def test_mangohud_06_integer_microseconds_become_milliseconds(tmp_path: Path) -> None:
    rows = [mangohud_06_row(60.0, 16667, 100_000_000 * (i + 1)) for i in range(4)]
    rows.append(mangohud_06_row(30.0, 33333, 500_000_000))
    capture = read_capture(write(tmp_path, MANGOHUD_SYSTEM + MANGOHUD_06_HEADER + "".join(rows)))

    frames = capture.select(None)
    assert (capture.format, capture.version, capture.sampled) == ("mangohud", "0.6", True)
    assert frames.frame_times_ms.tolist() == pytest.approx([16.667] * 4 + [33.333])
    assert frames.duration_s == pytest.approx(0.5)  # 0.1 .. 0.5 s, plus one 100 ms gap
    assert frames.row_durations_ms.tolist() == pytest.approx([100.0] * 5)


def test_mangohud_06_per_frame_log_is_not_sampled(tmp_path: Path) -> None:
    elapsed_ns = np.cumsum([16_667_000, 16_667_000, 33_333_000, 16_667_000])
    rows = [mangohud_06_row(60.0, 16667, int(ns)) for ns in elapsed_ns]
    capture = read_capture(write(tmp_path, MANGOHUD_SYSTEM + MANGOHUD_06_HEADER + "".join(rows)))

    frames = capture.select(None)
    assert not capture.sampled
    assert frames.duration_s is None
    assert np.array_equal(frames.row_durations_ms, frames.frame_times_ms)


def test_mangohud_with_version_banners(tmp_path: Path) -> None:
    text = (
        "v1\n0.7.2\n---------------------SYSTEM INFO---------------------\n"
        + MANGOHUD_SYSTEM
        + "--------------------FRAME METRICS--------------------\n"
        + MANGOHUD_06_HEADER
        + "144.2,6.93481,20,95,55,65,1340,2000,2.5,120,7.9,100000000\n"
        + "143.8,6.95410,20,95,55,65,1340,2000,2.5,120,7.9,200000000\n"
    )
    capture = read_capture(write(tmp_path, text, "Cyberpunk2077_2024-05-01_20-14-03.csv"))

    frames = capture.select(None)
    assert (capture.format, capture.version) == ("mangohud", "0.7")
    assert frames.name == "Cyberpunk2077"
    assert frames.frame_times_ms.tolist() == pytest.approx([6.93481, 6.95410])


def test_mangohud_without_frametime_or_fps_column_names_them(tmp_path: Path) -> None:
    text = MANGOHUD_SYSTEM + "cpu_load,gpu_load,elapsed\n20,95,100000000\n"
    with pytest.raises(MissingColumnError, match="'frametime' nor an 'fps'"):
        read_capture(write(tmp_path, text))


def test_mangohud_header_only_is_empty(tmp_path: Path) -> None:
    with pytest.raises(EmptyCaptureError, match="no frame rows"):
        read_capture(write(tmp_path, MANGOHUD_SYSTEM + MANGOHUD_06_HEADER))


def test_presentmon_v1_metrics_lower_case_ms(tmp_path: Path) -> None:
    capture = read_capture(write(tmp_path, presentmon_v1(["8.5", "9.0", "7.5"])))
    assert (capture.format, capture.version) == ("presentmon", "2.x-v1metrics")
    assert capture.select("GAME.EXE").frame_times_ms.tolist() == [8.5, 9.0, 7.5]


def test_crlf_line_ends(tmp_path: Path) -> None:
    text = presentmon_v1(["8.5", "9.0"]).replace("\n", "\r\n")
    assert read_capture(write(tmp_path, text)).select(None).frame_times_ms.tolist() == [8.5, 9.0]


def test_invalid_frame_times_are_dropped_and_counted(tmp_path: Path) -> None:
    frames = read_capture(write(tmp_path, presentmon_v1(["8", "NA", "0", "-1.5", "inf", "9"])))
    game = frames.select(None)
    assert game.frame_times_ms.tolist() == [8.0, 9.0]
    assert game.dropped_invalid == 4


def test_last_row_cut_off_mid_write_is_ignored(tmp_path: Path) -> None:
    text = presentmon_v1(["8", "9"]) + "game.exe,100,0x1,DXGI"  # the tool died mid-row
    game = read_capture(write(tmp_path, text)).select(None)
    assert (game.frame_times_ms.tolist(), game.dropped_invalid) == ([8.0, 9.0], 0)


def test_complete_last_row_without_newline_is_kept(tmp_path: Path) -> None:
    text = presentmon_v1(["8", "9"]).rstrip("\n")
    assert read_capture(write(tmp_path, text)).select(None).frame_times_ms.tolist() == [8, 9]


def test_unclosed_quote_is_refused_not_swallowing_the_file(tmp_path: Path) -> None:
    rows = presentmon_v1(["8", "9", "10"]).splitlines()
    rows[2] = rows[2].replace("game.exe", '"game.exe', 1)
    with pytest.raises(MalformedCaptureError, match="quote opened on line 3 is never closed"):
        read_capture(write(tmp_path, "\n".join(rows) + "\n"))


def test_process_with_no_valid_frame_is_empty(tmp_path: Path) -> None:
    capture = read_capture(write(tmp_path, presentmon_v1(["NA", "0"])))
    with pytest.raises(EmptyCaptureError, match=r"game\.exe"):
        capture.select(None)


def test_presentmon_without_frame_time_column_names_the_column(tmp_path: Path) -> None:
    text = "Application,ProcessID,TimeInSeconds\ngame.exe,100,0.5\n"
    with pytest.raises(MissingColumnError, match="MsBetweenPresents"):
        read_capture(write(tmp_path, text))


def test_presentmon_header_only_is_empty(tmp_path: Path) -> None:
    with pytest.raises(EmptyCaptureError):
        read_capture(write(tmp_path, PRESENTMON_V1_METRICS))


def test_ocat_quoted_cell_with_comma(tmp_path: Path) -> None:
    text = (
        "Application,ProcessID,MsBetweenPresents,Motherboard,Comment\n"
        'game.exe,7,10.5,"ACME, Inc. Board","run, 1"\n'
        "game.exe,7,11.5\n"
    )
    capture = read_capture(write(tmp_path, text))
    assert (capture.format, capture.version) == ("ocat", "1.x")
    assert capture.select(None).frame_times_ms.tolist() == [10.5, 11.5]


def test_format_comes_from_content_not_name(tmp_path: Path) -> None:
    text = MANGOHUD_SYSTEM + MANGOHUD_06_HEADER + mangohud_06_row(60.0, 16667, 100_000_000)
    assert read_capture(write(tmp_path, text, "presentmon_capture.csv")).format == "mangohud"


def test_unknown_format_lists_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownFormatError) as caught:
        read_capture(write(tmp_path, "time,value\n1,2\n"))
    assert "MangoHud, PresentMon, OCAT, CapFrameX, MSI Afterburner" in str(caught.value)


def test_binary_file(tmp_path: Path) -> None:
    with pytest.raises(UnknownFormatError, match="binary file, not a frame-time capture"):
        read_capture(write(tmp_path, b"PK\x03\x04\x00\x00binary"))


def test_garbage_after_a_utf16_mark_is_an_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(UnknownFormatError):
        read_capture(write(tmp_path, b"\xff\xfe\xfa not utf-16"))


def test_utf16_capture_as_powershell_writes_it(tmp_path: Path) -> None:
    data = presentmon_v1(["8", "9"]).encode("utf-16")
    assert read_capture(write(tmp_path, data)).select(None).frame_times_ms.tolist() == [8, 9]


def test_latin1_process_name(tmp_path: Path) -> None:
    data = presentmon_v1(["8", "9"]).replace("game.exe", "caf\u00e9.exe").encode("latin-1")
    assert read_capture(write(tmp_path, data)).select("caf\u00e9.exe").frame_count == 2


def test_a_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "capture.csv"
    os.mkfifo(fifo)
    with pytest.raises(CaptureError, match="not a regular file"):
        read_capture(fifo)


def test_exact_process_name_wins_and_ambiguous_case_is_refused(tmp_path: Path) -> None:
    rows = (
        presentmon_v1(["8", "9"])
        + presentmon_v1(["5"]).splitlines()[1].replace("game.exe", "GAME.exe")
        + "\n"
    )
    capture = read_capture(write(tmp_path, rows))
    assert capture.select("GAME.exe").frame_count == 1
    with pytest.raises(ProcessNotFoundError, match="several processes but for case"):
        capture.select("Game.EXE")


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\r\n  \n"])
def test_empty_file(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(EmptyCaptureError, match="empty"):
        read_capture(write(tmp_path, data))


def test_missing_file_names_file_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "gone.csv"
    with pytest.raises(CaptureError) as caught:
        read_capture(path)
    assert str(caught.value) == f"{path}: cannot read the file: No such file or directory"
