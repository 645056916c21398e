"""One small capture per layout Gearshift reads, written with chosen frame-time cells.

The bad-input and fuzz tests feed every reader the same kinds of damage; this module
gives them, for each layout, a capture whose frame-time cells they choose (numbers,
text, blanks) and the layout's header with the frame-time column taken out. The
layouts follow the same descriptions as the hand-made fixtures (fixtures/README.md);
the frame time is never the last field of a row, so a row cut off at the end of the
file loses a field after it, as real rows do.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gearshift.frames.table import to_number

FIXTURES = Path(__file__).parent / "fixtures"

Cells = Sequence[str]


@dataclass(frozen=True)
class Layout:
    """A capture layout and how to write one.

    Attributes:
        name: the layout, as test ids show it.
        format: the reader's format name.
        write: the whole capture, with one frame-time cell per frame (an fps cell
            for MangoHud 0.4, which has no frame-time column).
        without_frame_time: a capture of this layout whose header has no frame-time
            column; None where the layout has no header to take it from.
        to_ms: turns a written cell's number into the frame time read, in ms.
    """

    name: str
    format: str
    write: Callable[[Cells], str]
    without_frame_time: str | None
    to_ms: Callable[[float], float] = lambda value: value

    def expected_ms(self, cells: Cells) -> list[float]:
        """The frame times a reader should keep from these cells: the usable ones."""
        kept = []
        for cell in cells:
            value = to_number(cell)
            if value > 0 and value != float("inf"):
                kept.append(self.to_ms(value))
        return kept


MANGOHUD_SYSTEM = (
    "os,cpu,gpu,ram,kernel,driver,cpuscheduler\n"
    "Arch Linux,AMD Ryzen 5 3600 6-Core Processor,AMD Radeon RX 580 (RADV POLARIS10),"
    "16310556,6.6.8-arch1-1,Mesa 23.3.2,schedutil\n"
)


def _mangohud(cells: Cells) -> str:
    rows = [f"144.2,{ft},20.5,95,{(i + 1) * 100_000_000}\n" for i, ft in enumerate(cells)]
    return MANGOHUD_SYSTEM + "fps,frametime,cpu_load,gpu_load,elapsed\n" + "".join(rows)


def _mangohud_04(cells: Cells) -> str:
    rows = [f"{fps},12,100,{169 + i * 100_060}\n" for i, fps in enumerate(cells)]
    return MANGOHUD_SYSTEM.replace(",cpuscheduler", "").replace(",schedutil", "") + "".join(rows)


PRESENTMON_HEADER = (
    "Application,ProcessID,SwapChainAddress,Runtime,SyncInterval,PresentFlags,AllowsTearing,"
    "PresentMode,Dropped,TimeInSeconds,MsBetweenPresents,MsBetweenDisplayChange,"
    "MsInPresentAPI,MsUntilRenderComplete,MsUntilDisplayed"
)


def _present_rows(cells: Cells, extra: str = "") -> list[str]:
    return [
        f"eldenring.exe,9120,0x00000219A5C0E930,DXGI,1,0,0,Hardware: Independent Flip,0,"
        f"{i * 0.0167:.6f},{ft},16.667,0.182,1.904,19.512{extra}"
        for i, ft in enumerate(cells)
    ]


def _presentmon(cells: Cells) -> str:
    return "\n".join([PRESENTMON_HEADER, *_present_rows(cells)]) + "\n"


OCAT_INFO = ',"MSI, MPG Z390",Windows 10,Intel Core i9-9900K,32 GB,442.19'


def _ocat(cells: Cells) -> str:
    header = PRESENTMON_HEADER + ",Motherboard,OS,Processor,System RAM,Base Driver Version"
    rows = _present_rows(cells)
    return "\n".join([header, rows[0] + OCAT_INFO, *rows[1:]]) + "\n" if rows else header


CAPFRAMEX_BLOCK = (
    "//GameName=eldenring.exe\r\n//ProcessName=ELDEN RING\r\n//CreationDate=2024-02-02\r\n"
    "//GPU=NVIDIA GeForce RTX 3060 Ti\r\n//Comment=Limgrave, 1080p=High\r\n"
)


def _capframex_csv(cells: Cells) -> str:
    return CAPFRAMEX_BLOCK + "\r\n".join([PRESENTMON_HEADER, *_present_rows(cells)]) + "\r\n"


def _json_value(cell: str) -> object:
    try:
        return json.loads(cell)
    except ValueError:
        return cell


def _capframex_json(cells: Cells) -> str:
    count = len(cells)
    session = {
        "Hash": "0f3e",
        "Info": {"ProcessName": "eldenring.exe", "GPU": "NVIDIA GeForce RTX 3060 Ti"},
        "Runs": [
            {
                "CaptureData": {
                    "TimeInSeconds": [i * 0.0167 for i in range(count)],
                    "MsBetweenPresents": [_json_value(cell) for cell in cells],
                    "MsBetweenDisplayChange": [16.667] * count,
                    "Dropped": [False] * count,
                }
            }
        ],
    }
    return json.dumps(session, indent=2)


AFTERBURNER_STAMP = "02-02-2024 21:10"


def _hml_line(record: str, second: int, cells: Cells) -> str:
    return f"{record}, {AFTERBURNER_STAMP}:{second:02d}, " + ",".join(f"{c:<20}" for c in cells)


def _afterburner(cells: Cells, names: Cells = ("GPU usage", "Frametime", "CPU usage")) -> str:
    lines = [
        f"00, {AFTERBURNER_STAMP}:00, Hardware monitoring log v1.6 ",
        f"01, {AFTERBURNER_STAMP}:00, NVIDIA GeForce RTX 3060 Ti",
        _hml_line("02", 0, names),
    ]
    lines += [_hml_line("80", i + 1, ["97.000", ft, "41.250"]) for i, ft in enumerate(cells)]
    return "\r\n".join(lines) + "\r\n"


LAYOUTS: tuple[Layout, ...] = (
    Layout(
        "mangohud",
        "mangohud",
        _mangohud,
        MANGOHUD_SYSTEM + "fps_avg,cpu_load,gpu_load,elapsed\n144,20,95,100000000\n",
    ),
    Layout("mangohud-0.4", "mangohud", _mangohud_04, None, lambda fps: 1000.0 / fps),
    Layout(
        "presentmon",
        "presentmon",
        _presentmon,
        "Application,ProcessID,TimeInSeconds,MsInPresentAPI\neldenring.exe,9120,0.5,0.2\n",
    ),
    Layout(
        "ocat",
        "ocat",
        _ocat,
        "Application,ProcessID,TimeInSeconds,Motherboard\neldenring.exe,9120,0.5,MSI\n",
    ),
    Layout(
        "capframex-csv",
        "capframex",
        _capframex_csv,
        CAPFRAMEX_BLOCK + "Application,ProcessID,TimeInSeconds\r\neldenring.exe,9120,0.5\r\n",
    ),
    Layout(
        "capframex-json",
        "capframex",
        _capframex_json,
        json.dumps({"Info": {}, "Runs": [{"CaptureData": {"TimeInSeconds": [0.5, 0.6]}}]}),
    ),
    Layout(
        "afterburner",
        "afterburner",
        _afterburner,
        _afterburner(["97.000"], names=("GPU usage", "GPU temperature", "CPU usage")),
    ),
)
"""Every layout, in the order the tests list them."""

GOOD_CELLS = ("8.1", "8.4", "7.9", "16.2", "8.0", "8.3", "8.2", "8.5", "7.8", "8.1")
"""Frame times (or, for MangoHud 0.4, frame rates) that every layout reads as written."""


def fixture_files() -> list[Path]:
    """The hand-made fixtures, every one a capture a reader takes."""
    return sorted(p for p in FIXTURES.iterdir() if p.suffix != ".md")
