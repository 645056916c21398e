"""MangoHud's older layouts and its unquoted system information, from hand-written logs.

The layouts follow MangoHud's own log writer as it was in each release: 0.4 writes no
data header and four fields a row (fps, CPU load, GPU load, elapsed in microseconds);
0.5 adds a header but still no frame-time column; 0.6 adds ``frametime`` in
microseconds and moves ``elapsed`` to nanoseconds. The real 0.4 and 0.8 logs in
../shared/captures are tested in test_readers.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gearshift.core.errors import MissingColumnError
from gearshift.frames.registry import read_capture

SYSTEM = "os,cpu,gpu,ram,kernel,driver\nArch Linux,Ryzen 5 3600,RX 580,16310556,5.10.7,Mesa 20.3\n"
V05_HEADER = (
    "fps,cpu_load,gpu_load,cpu_temp,gpu_temp,gpu_core_clock,gpu_mem_clock,gpu_vram_used,"
    "ram_used,elapsed\n"
)
RADV_GPU = "AMD Radeon RX 580 Series (POLARIS10, DRM 3.40.0, 5.10.7, LLVM 11.0.1)"


def write(tmp_path: Path, text: str, name: str = "Hades_2021-02-11_21-04-55.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def v05_row(fps: float, elapsed_us: int) -> str:
    return f"{fps},23,97,61,70,1340,2000,3.1,7.9,{elapsed_us}\n"


def test_05_header_without_frametime_derives_it_from_fps(tmp_path: Path) -> None:
    rows = [v05_row(fps, 100_000 * (i + 1)) for i, fps in enumerate([60, 50, 40])]
    capture = read_capture(write(tmp_path, SYSTEM + V05_HEADER + "".join(rows)))

    frames = capture.select(None)
    assert (capture.format, capture.version, capture.sampled) == ("mangohud", "0.5", True)
    assert frames.name == "Hades"
    assert frames.frame_times_ms.tolist() == pytest.approx([1000 / 60, 20.0, 25.0])
    # elapsed is microseconds: 100 ms rows, so three rows cover 0.3 s.
    assert frames.row_durations_ms.tolist() == pytest.approx([100.0] * 3)
    assert frames.duration_s == pytest.approx(0.3)


def test_05_log_with_zero_interval_is_per_frame(tmp_path: Path) -> None:
    rows = [v05_row(60, 16_667), v05_row(60, 33_334), v05_row(30, 66_667)]
    capture = read_capture(write(tmp_path, SYSTEM + V05_HEADER + "".join(rows)))

    frames = capture.select(None)
    assert not capture.sampled
    assert frames.duration_s is None
    assert frames.frame_times_ms.tolist() == pytest.approx([16.6667, 16.6667, 33.3333], rel=1e-4)


def test_05_zero_and_missing_fps_are_dropped_and_counted(tmp_path: Path) -> None:
    rows = [v05_row(60, 100_000), v05_row(0, 200_000), "nan,1,1,1,1,1,1,1,1,300000\n"]
    frames = read_capture(write(tmp_path, SYSTEM + V05_HEADER + "".join(rows))).select(None)
    assert frames.frame_times_ms.tolist() == pytest.approx([1000 / 60])
    assert frames.dropped_invalid == 2


def test_04_hand_made_with_commas_in_the_gpu_name(tmp_path: Path) -> None:
    system = f"os,cpu,gpu,ram,kernel,driver\nManjaro,Ryzen 7,{RADV_GPU},16384,5.10.7,Mesa 20.3\n"
    rows = "144.2,31,99,131\n143.8,30,99,100211\n-nan,30,0,200298\n120.0,35,99,300340\n"
    capture = read_capture(write(tmp_path, system + rows))

    frames = capture.select(None)
    assert (capture.version, capture.sampled) == ("0.4", True)
    assert frames.frame_times_ms.tolist() == pytest.approx(
        [1000 / 144.2, 1000 / 143.8, 1000 / 120]
    )
    assert frames.dropped_invalid == 1
    # Nine values for six names: which one held the commas cannot be told.
    assert dict(capture.metadata) == {}


def test_a_comma_and_a_stray_quote_in_system_info_do_not_shift_the_data(tmp_path: Path) -> None:
    system = (
        "os,cpu,gpu,ram,kernel,driver,cpuscheduler\n"
        f'Fedora 39,Intel Core i5-12400 "Alder Lake",{RADV_GPU},32768,6.6.9,Mesa 23.3,\n'
    )
    header = "fps,frametime,cpu_load,gpu_load,elapsed\n"
    rows = "144.1,6.94,20,95,100000000\n120.3,8.31,21,96,200000000\n"
    capture = read_capture(write(tmp_path, system + header + rows))

    assert capture.version == "0.7"
    assert capture.select(None).frame_times_ms.tolist() == [6.94, 8.31]


def test_system_info_that_pairs_up_becomes_metadata(tmp_path: Path) -> None:
    header = "fps,frametime,cpu_load,gpu_load,elapsed\n"
    capture = read_capture(write(tmp_path, SYSTEM + header + "144.1,6.94,20,95,100000000\n"))
    assert dict(capture.metadata) == {
        "os": "Arch Linux",
        "cpu": "Ryzen 5 3600",
        "gpu": "RX 580",
        "ram": "16310556",
        "kernel": "5.10.7",
        "driver": "Mesa 20.3",
    }


def test_headerless_rows_that_are_not_the_04_layout_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MissingColumnError, match=r"not the 0\.4 layout's 4"):
        read_capture(write(tmp_path, SYSTEM + "144.2,31,99\n143.8,30,99\n"))


def test_columns_are_found_by_name_wherever_they_are(tmp_path: Path) -> None:
    header = "frametime,elapsed,fps\n"
    rows = "6.94,100000000,144.1\n8.31,200000000,120.3\n"
    frames = read_capture(write(tmp_path, SYSTEM + header + rows)).select(None)
    # elapsed is nanoseconds beside a frametime column, wherever that column sits.
    assert frames.duration_s == pytest.approx(0.2)
    assert frames.frame_times_ms.tolist() == [6.94, 8.31]
