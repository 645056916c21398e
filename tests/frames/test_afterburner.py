"""MSI Afterburner hardware-monitoring logs.

No real Afterburner log is shared, so fixtures/afterburner_HardwareMonitoring.hml is
hand-made from the format description in ../shared/captures/README.md (typed records
``00`` to ``03`` and ``80`` with ``dd-mm-yyyy HH:MM:SS`` stamps, space-padded and
repeated names, ``N/A``, one record a second, CRLF); fixtures/README.md lists its
quirks. The smaller logs below are written the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gearshift.core.errors import EmptyCaptureError, MissingColumnError
from gearshift.frames.registry import read_capture

LOG = Path(__file__).parent / "fixtures" / "afterburner_HardwareMonitoring.hml"
STAMP = "02-11-2023 18:40"


def pad(*cells: str) -> str:
    return ",".join(f"{cell:<20}" for cell in cells)


def hml(names: list[str], samples: list[list[str]], first_record: str = "00") -> str:
    lines = [
        f"00, {STAMP}:00, Hardware monitoring log v1.6 ",
        f"01, {STAMP}:00, AMD Radeon RX 7800 XT",
        f"02, {STAMP}:00, {pad(*names)}",
    ]
    lines = lines[["00", "01", "02"].index(first_record) :]
    for second, values in enumerate(samples, start=1):
        lines.append(f"80, {STAMP}:{second:02d}, {pad(*values)}")
    return "\r\n".join(lines) + "\r\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "HardwareMonitoring.hml"
    path.write_bytes(text.encode("cp1252"))
    return path


def test_fixture_reads_frametime_then_framerate_after_the_restart() -> None:
    assert b"\xb0C" in LOG.read_bytes()  # the degree sign, in Windows-1252
    capture = read_capture(LOG)

    frames = capture.select(None)
    assert (capture.format, capture.version, capture.sampled) == (
        "afterburner",
        "log v1.6",
        True,
    )
    assert frames.name == "afterburner_HardwareMonitoring"
    # First session: the Frametime column; second: no Frametime, so 1000 / Framerate.
    assert frames.frame_times_ms.tolist() == pytest.approx(
        [6.9, 7.0, 6.8, 7.2, 24.6, 6.9, 7.0, 1000 / 120, 1000 / 125, 10.0]
    )
    # N/A before and after the game (3 + 1), a 0.0 reading, and an N/A frame rate.
    assert frames.dropped_invalid == 5


def test_fixture_rows_last_the_polling_period_and_only_game_seconds_count() -> None:
    frames = read_capture(LOG).select(None)
    # Stamps 20:15:03 .. 20:15:13 over 11 rows (one second skipped, one repeated):
    # one row a second; then 20:31:41 .. 44 over 4 rows.
    assert frames.row_durations_ms.tolist() == pytest.approx([1000.0] * 10)
    assert frames.duration_s == pytest.approx(10.0)


def test_fixture_gpus_and_log_version_become_metadata() -> None:
    assert dict(read_capture(LOG).metadata) == {
        "log version": "1.6",
        "GPU 1": "Intel(R) UHD Graphics 770",
        "GPU 2": "NVIDIA GeForce RTX 4070",
    }


def test_repeated_name_takes_the_column_with_readings(tmp_path: Path) -> None:
    names = ["GPU temperature", "Frametime", "Frametime"]
    samples = [["50.000", "N/A", "8.1"], ["51.000", "N/A", "8.3"]]
    frames = read_capture(write(tmp_path, hml(names, samples))).select(None)
    assert frames.frame_times_ms.tolist() == [8.1, 8.3]
    assert read_capture(write(tmp_path, hml(names, samples))).metadata["GPU"] == (
        "AMD Radeon RX 7800 XT"
    )


def test_framerate_only_gives_frame_times_from_it(tmp_path: Path) -> None:
    samples = [["60.000", "165.000"], ["61.000", "0.000"], ["61.000", "150.000"]]
    frames = read_capture(write(tmp_path, hml(["GPU usage", "Framerate"], samples))).select(None)
    assert frames.frame_times_ms.tolist() == pytest.approx([1000 / 165, 1000 / 150])
    assert frames.dropped_invalid == 1


def test_sub_second_polling_shares_the_seconds_out(tmp_path: Path) -> None:
    rows = [f"80, {STAMP}:{10 + i // 4:02d}, {pad('7.5')}" for i in range(12)]
    text = f"02, {STAMP}:09, {pad('Frametime')}\r\n" + "\r\n".join(rows) + "\r\n"
    frames = read_capture(write(tmp_path, text)).select(None)
    # Twelve rows stamped 10, 10, 10, 10, 11, ..., 12: 2 s over 11 gaps.
    assert frames.row_durations_ms.tolist() == pytest.approx([2000 / 11] * 12)


def test_a_copy_that_starts_at_the_names_record_is_recognised(tmp_path: Path) -> None:
    text = hml(["Frametime"], [["9.0"], ["9.5"]], first_record="02")
    capture = read_capture(write(tmp_path, text))
    assert (capture.format, capture.version) == ("afterburner", "log")


def test_no_frame_time_or_frame_rate_says_what_to_enable(tmp_path: Path) -> None:
    text = hml(["GPU temperature", "GPU usage"], [["50.000", "97.000"]])
    with pytest.raises(MissingColumnError, match="neither a 'Frametime' nor a 'Framerate'"):
        read_capture(write(tmp_path, text))


def test_headers_without_samples_are_empty(tmp_path: Path) -> None:
    with pytest.raises(EmptyCaptureError, match="no sample"):
        read_capture(write(tmp_path, hml(["Frametime"], [])))


def test_cut_off_last_record_and_garbage_lines_are_skipped(tmp_path: Path) -> None:
    names = ["GPU usage", "Framerate", "Frametime"]
    text = hml(names, [["97.000", "144.0", "6.9"], ["98.000", "143.0", "7.0"]])
    text = text.replace("\r\n80,", "\r\n### pasted from a forum ###\r\n80,", 1)
    text += f"80, {STAMP}:03, 97.000              ,14"  # stops inside the frame rate
    frames = read_capture(write(tmp_path, text)).select(None)
    assert frames.frame_times_ms.tolist() == [6.9, 7.0]
    assert frames.dropped_invalid == 0


def test_impossible_date_keeps_the_row(tmp_path: Path) -> None:
    text = hml(["Frametime"], [["9.0"], ["9.5"]]).replace("80, 02-11-2023", "80, 31-02-2023", 1)
    frames = read_capture(write(tmp_path, text)).select(None)
    assert frames.frame_times_ms.tolist() == [9.0, 9.5]
