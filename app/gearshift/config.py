"""Settings: the model, where the file lives, and reading it with validation.

The file is TOML in the platform's config folder (``~/.config/gearshift/settings.toml``
on Linux). A file that cannot be read or is invalid is left exactly as it is: the
defaults are used and the problem is reported in one line naming the file and the
setting at fault.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

_log = logging.getLogger(__name__)

SETTINGS_ENV = "GEARSHIFT_SETTINGS"
"""Overrides the settings file's path."""

SETTINGS_VERSION = 1
LOOPBACK = "127.0.0.1"


class _Section(BaseModel):
    # Strict: "yes" is not true and "4" is not a number; a setting of the wrong type is
    # reported, not guessed at.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ApiSettings(_Section):
    """The local control API (``gearshift ctl``)."""

    enabled: bool = True


class MetricsSettings(_Section):
    """The Prometheus endpoint: off unless enabled, loopback unless an address is set."""

    enabled: bool = False
    address: str = LOOPBACK
    port: Annotated[int, Field(ge=1, le=65535)] = 9464

    @field_validator("address")
    @classmethod
    def _an_ip_address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(
                f"'{value}' is not an IP address: use 127.0.0.1 (this machine only), or "
                "the address of one of this machine's network interfaces"
            ) from None
        return value


class GpuSettings(_Section):
    """GPU telemetry and the presets the card suggests."""

    enabled: bool = True
    pin: Annotated[str, Field(max_length=64)] = ""
    """Follow this GPU: its index, UUID or PCI bus id; empty follows the game's GPU."""
    sample_hz: Annotated[float, Field(ge=0.1, le=20, allow_inf_nan=False)] = 4.0
    """Samples a second, from 0.1 to 20."""
    adjust_presets: bool = True
    """Let the measured frame rate move each mode's preset while the game runs."""


COOLDOWN_RANGE_S = (0.0, 600.0)
"""The cooldown a player may set, in seconds."""

DEFAULT_ENTER_COMPETITIVE = "Ctrl+Shift+F10"
"""Enters Competitive; pressed again, returns to Immersive. Never Ctrl+Alt+F1..F12,
which switch Linux consoles."""


class GeneralSettings(_Section):
    """How the app behaves on the desktop."""

    cooldown_s: Annotated[
        float, Field(ge=COOLDOWN_RANGE_S[0], le=COOLDOWN_RANGE_S[1], allow_inf_nan=False)
    ] = 5.0
    """Seconds that must pass between switches unless forced, from 0 to 600."""
    start_at_login: bool = False
    start_minimised: bool = False
    """Start in the tray without showing the window (only when a tray is there)."""
    notifications: bool = True
    """Tray notifications for switches, rollbacks and automatic switches."""


class HotkeySettings(_Section):
    """Global hotkeys, written as Qt key sequences ("Ctrl+Shift+F10"); empty is off."""

    enabled: bool = True
    enter_competitive: Annotated[str, Field(max_length=64)] = DEFAULT_ENTER_COMPETITIVE
    """Enters Competitive; pressed again in Competitive, returns to Immersive."""
    toggle: Annotated[str, Field(max_length=64)] = ""
    """Switches to the mode that is not active; off by default."""


class GameRule(_Section):
    """One game that switches to Competitive while it runs."""

    name: Annotated[str, Field(min_length=1, max_length=255)]
    """The executable's name as the system lists it, e.g. "cs2" or "cs2.exe"."""
    path: Annotated[str, Field(max_length=4096)] = ""
    """Only when the executable is at this path (empty: anywhere)."""
    cmdline: Annotated[str, Field(max_length=1024)] = ""
    """Only when the command line contains this text (empty: any)."""


class AutoSwitchSettings(_Section):
    """Automatic switching while a listed game runs."""

    enabled: bool = True
    games: tuple[GameRule, ...] = ()
    poll_s: Annotated[float, Field(ge=0.5, le=60, allow_inf_nan=False)] = 2.0
    """How often to look for games where no event tells, in seconds."""


class AdvancedSettings(_Section):
    """Features still maturing; each is off or on as the window's Advanced tab says."""

    ingest_socket: bool = True
    """Let game engines push frame times to a local socket."""


class Settings(_Section):
    """Everything a player can set."""

    version: int = SETTINGS_VERSION
    general: GeneralSettings = GeneralSettings()
    hotkeys: HotkeySettings = HotkeySettings()
    autoswitch: AutoSwitchSettings = AutoSwitchSettings()
    advanced: AdvancedSettings = AdvancedSettings()
    api: ApiSettings = ApiSettings()
    metrics: MetricsSettings = MetricsSettings()
    gpu: GpuSettings = GpuSettings()


@dataclass(frozen=True)
class LoadedSettings:
    """What load_settings found.

    Attributes:
        settings: the settings in effect (the defaults where the file was unusable).
        path: the file read (or looked for).
        problem: one line saying what was wrong with the file, or None.
    """

    settings: Settings
    path: Path
    problem: str | None = None


def settings_path() -> Path:
    """Where the settings file is: $GEARSHIFT_SETTINGS, else the user's config folder."""
    override = os.environ.get(SETTINGS_ENV)
    if override:
        return Path(override)
    import platformdirs

    return platformdirs.user_config_path("gearshift") / "settings.toml"


def load_settings(path: Path | None = None) -> LoadedSettings:
    """Read the settings; a missing file means defaults, a bad one defaults plus a problem.

    The file is never written or moved here.
    """
    path = path or settings_path()
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return LoadedSettings(Settings(), path)
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        return _unusable(path, f"cannot be read ({reason})")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        return _unusable(path, f"is not valid TOML ({error})")
    try:
        return LoadedSettings(Settings.model_validate(document), path)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "the file"
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = "not a setting Gearshift knows"
        elif first["type"] in _HINTS:
            message = f"{message} ({_HINTS[first['type']]})"
        return _unusable(path, f"has an invalid setting {where}: {message}")


_HINTS = {
    "string_type": 'write text in quotes, e.g. pin = "1"',
    "bool_type": "write true or false, without quotes",
    "float_type": "write a number without quotes, e.g. 4",
    "int_type": "write a whole number without quotes",
}
"""What to write instead, for the type mistakes people make in TOML."""


def _unusable(path: Path, what: str) -> LoadedSettings:
    problem = f"settings file {path} {what}; using the defaults, the file is left as it is"
    return LoadedSettings(Settings(), path, problem)
