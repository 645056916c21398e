"""Settings: the model, where the file lives, reading it, migrating it and saving it.

The file is TOML in the platform's config folder (``~/.config/gearshift/settings.toml``
on Linux), with a ``version`` so that a file written by an older Gearshift is migrated
on load rather than refused.

Reading never writes: ``load_settings`` gives the defaults and a one-line problem for a
file that is unreadable or invalid, and the command line stays read-only. Only the tray
app moves such a file aside (``set_aside``: ``settings.toml.bak``, or ``.bak.1`` and on
when an older, different backup is there) and saves (``save_settings``): a temporary
file in the same folder, fsync, rename over the old file, fsync the folder. A crash at
any point leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import logging
import os
import stat
import tempfile
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gearshift.core.errors import GearshiftError
from gearshift.core.modes import DEFAULT_PROFILES, ModeProfile, PerformanceMode
from gearshift.system.atomic import fsync_folder

_log = logging.getLogger(__name__)

SETTINGS_ENV = "GEARSHIFT_SETTINGS"
"""Overrides the settings file's path."""

SETTINGS_VERSION = 2
"""The layout this Gearshift writes. 1: api, metrics and gpu only. 2: everything the
settings window sets (general, hotkeys, profiles, autoswitch, advanced)."""

LOOPBACK = "127.0.0.1"


class SettingsError(GearshiftError):
    """The settings could not be saved; the message names the file and the reason.

    It sits beside CaptureError under GearshiftError (see ``gearshift.core.errors``).
    """


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


# ----------------------------------------------------------------------------- profiles

FPS_FLOOR_RANGE = (10.0, 1000.0)
"""The lowest frame rate a mode may aim for, in FPS (its frame budget is 1000 / floor)."""

FPS_CEILING_MAX = 2000.0
"""The highest ceiling a mode may have, in FPS; 0 means no ceiling."""

PresetName = Literal["low", "medium", "high", "ultra"]


def _profile_defaults(mode: PerformanceMode) -> dict[str, Any]:
    profile = DEFAULT_PROFILES[mode]
    return {
        "fps_min": profile.fps_min,
        "fps_max": profile.fps_max or 0.0,
        "preset": profile.preset,
    }


class ProfileSettings(_Section):
    """What one mode aims for; what it applies to the machine stays the built-in list."""

    fps_min: Annotated[
        float, Field(ge=FPS_FLOOR_RANGE[0], le=FPS_FLOOR_RANGE[1], allow_inf_nan=False)
    ]
    """The target's floor in FPS; the frame budget is 1000 / fps_min milliseconds."""
    fps_max: Annotated[float, Field(ge=0, le=FPS_CEILING_MAX, allow_inf_nan=False)] = 0.0
    """The target's ceiling in FPS; 0 for none."""
    preset: PresetName
    """The quality preset when no GPU suggests one."""

    @model_validator(mode="after")
    def _ceiling_above_floor(self) -> ProfileSettings:
        if self.fps_max and self.fps_max < self.fps_min:
            raise ValueError(
                f"the FPS ceiling {self.fps_max:g} is below the floor {self.fps_min:g}: "
                "raise it, or set 0 for no ceiling"
            )
        return self


class ProfilesSettings(_Section):
    """Each mode's target and preset; a setting left out keeps the built-in value."""

    immersive: ProfileSettings = ProfileSettings(**_profile_defaults(PerformanceMode.IMMERSIVE))
    competitive: ProfileSettings = ProfileSettings(
        **_profile_defaults(PerformanceMode.COMPETITIVE)
    )

    @model_validator(mode="before")
    @classmethod
    def _fill_from_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        filled = dict(data)
        for mode in PerformanceMode:
            given = data.get(mode.value)
            if isinstance(given, dict):
                filled[mode.value] = {**_profile_defaults(mode), **given}
        return filled


def mode_profiles(settings: Settings) -> dict[PerformanceMode, ModeProfile]:
    """Each mode's profile: the built-in one with the settings' target and preset."""
    chosen = {
        PerformanceMode.IMMERSIVE: settings.profiles.immersive,
        PerformanceMode.COMPETITIVE: settings.profiles.competitive,
    }
    return {
        mode: replace(
            DEFAULT_PROFILES[mode],
            fps_min=profile.fps_min,
            fps_max=profile.fps_max or None,
            preset=profile.preset,
        )
        for mode, profile in chosen.items()
    }


# ------------------------------------------------------------------------- the rest


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
    games: Annotated[tuple[GameRule, ...], Field(strict=False)] = ()
    """The games; TOML gives an array, which is read into a tuple (each game strictly)."""
    poll_s: Annotated[float, Field(ge=0.5, le=60, allow_inf_nan=False)] = 2.0
    """How often to look for games where no event tells, in seconds."""

    @field_validator("games")
    @classmethod
    def _each_game_once(cls, games: tuple[GameRule, ...]) -> tuple[GameRule, ...]:
        seen = set()
        for game in games:
            if game in seen:
                raise ValueError(f"'{game.name}' is listed twice with the same path and text")
            seen.add(game)
        return games


class AdvancedSettings(_Section):
    """Features still maturing; each is off or on as the window's Advanced tab says."""

    ingest_socket: bool = True
    """Let game engines push frame times to a local socket."""


class ScriptsSettings(_Section):
    """The player's own commands, run when Competitive is entered and left."""

    enter: Annotated[tuple[str, ...], Field(strict=False)] = ()
    """Commands run in order on entering Competitive; one failing rolls the switch back."""
    leave: Annotated[tuple[str, ...], Field(strict=False)] = ()
    """Commands run in order on leaving Competitive (and when the app quits in it)."""
    timeout_s: Annotated[float, Field(gt=0, le=300, allow_inf_nan=False)] = 10.0
    """How long each command may run, in seconds."""


class Settings(_Section):
    """Everything a player can set."""

    version: int = SETTINGS_VERSION
    general: GeneralSettings = GeneralSettings()
    hotkeys: HotkeySettings = HotkeySettings()
    profiles: ProfilesSettings = ProfilesSettings()
    autoswitch: AutoSwitchSettings = AutoSwitchSettings()
    advanced: AdvancedSettings = AdvancedSettings()
    api: ApiSettings = ApiSettings()
    metrics: MetricsSettings = MetricsSettings()
    gpu: GpuSettings = GpuSettings()
    scripts: ScriptsSettings = ScriptsSettings()


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class LoadedSettings:
    """What load_settings found.

    Attributes:
        settings: the settings in effect (the defaults where the file was unusable).
        path: the file read (or looked for).
        fault: what was wrong with the file ("is not valid TOML (...)"), or None.
        backup: where set_aside kept the unusable file, or None while it is in place.
        migrated_from: the version the file was written as, when older than this one.
    """

    settings: Settings
    path: Path
    fault: str | None = None
    backup: Path | None = None
    migrated_from: int | None = None

    @property
    def problem(self) -> str | None:
        """One line for a person: the file, what was wrong, where the old file is."""
        if self.fault is None:
            return None
        if self.backup is None:
            kept = "the file is left as it is"
        else:
            kept = f"the old file is kept as {self.backup}"
        return f"settings file {self.path} {self.fault}; using the defaults, {kept}"


def settings_path() -> Path:
    """Where the settings file is: $GEARSHIFT_SETTINGS, else the user's config folder."""
    override = os.environ.get(SETTINGS_ENV)
    if override:
        return Path(override)
    import platformdirs

    return platformdirs.user_config_path("gearshift") / "settings.toml"


class _UnusableError(Exception):
    """Why a file cannot be used (the words after "settings file PATH")."""


def load_settings(path: Path | None = None) -> LoadedSettings:
    """Read, migrate and validate the settings; a missing file means the defaults.

    A file that cannot be used gives the defaults and a ``fault``. The file is never
    written or moved here (see ``set_aside``).
    """
    path = path or settings_path()
    try:
        document = _read_document(path)
    except FileNotFoundError:
        return LoadedSettings(Settings(), path)
    except _UnusableError as fault:
        return LoadedSettings(Settings(), path, fault=str(fault))

    version = document.get("version", 1)
    try:
        migrated = migrate(document)
        return LoadedSettings(
            Settings.model_validate(migrated),
            path,
            migrated_from=version if version != SETTINGS_VERSION else None,
        )
    except _UnusableError as fault:
        return LoadedSettings(Settings(), path, fault=str(fault))
    except ValidationError as error:
        where, message = validation_messages(error)[0]
        return LoadedSettings(Settings(), path, fault=f"has an invalid setting {where}: {message}")


def _read_document(path: Path) -> dict[str, Any]:
    """The file's TOML document. FileNotFoundError passes; other failures are _UnusableError."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise _UnusableError(f"cannot be read ({reason})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _UnusableError(f"is not valid TOML ({error})") from None


def validation_messages(error: ValidationError) -> list[tuple[str, str]]:
    """Each problem pydantic found, as (where, what): ("general.cooldown_s", "...")."""
    found = []
    for detail in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in detail["loc"]) or "the file"
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden":
            message = "not a setting Gearshift knows"
        elif detail["type"] in _HINTS:
            message = f"{message} ({_HINTS[detail['type']]})"
        found.append((where, message))
    return found


_HINTS = {
    "string_type": 'write text in quotes, e.g. pin = "1"',
    "bool_type": "write true or false, without quotes",
    "float_type": "write a number without quotes, e.g. 4",
    "int_type": "write a whole number without quotes",
}
"""What to write instead, for the type mistakes people make in TOML."""


# -------------------------------------------------------------------------- migration

Migration = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns a document of version n into one of version n + 1 (and says so in it)."""


def _from_v1(document: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had api, metrics and gpu only; version 2 adds sections with defaults."""
    return {**document, "version": 2}


MIGRATIONS: dict[int, Migration] = {1: _from_v1}
"""The step from each old version to the next. A layout change adds a step here and
raises SETTINGS_VERSION; a file several versions old takes every step in turn."""


def migrate(document: Mapping[str, Any]) -> dict[str, Any]:
    """``document`` brought to SETTINGS_VERSION. A file with no version is version 1.

    Raises:
        _UnusableError: the version is not a whole number, or is newer than this Gearshift.
    """
    current = dict(document)
    version = current.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _UnusableError(f"has an invalid version {version!r} (write a whole number, e.g. 2)")
    if version > SETTINGS_VERSION:
        raise _UnusableError(
            f"was written by a newer Gearshift (settings version {version}; this one reads "
            f"up to {SETTINGS_VERSION})"
        )
    while version < SETTINGS_VERSION:
        current = MIGRATIONS[version](current)
        _log.info("settings migrated from version %d to %d", version, current["version"])
        version = current["version"]
    return current


# ----------------------------------------------------------------------------- writing

_HEADER = """\
# Gearshift's settings. Gearshift's settings window writes this file; edit it while
# Gearshift is not running. A file Gearshift cannot use is kept as settings.toml.bak
# and the defaults apply.

"""
STALE_TEMPORARY_S = 60.0
"""A temporary file older than this, in seconds, was left by a save that crashed."""


def settings_text(settings: Settings) -> str:
    """The TOML text saved for ``settings`` (every setting, written out)."""
    return _HEADER + tomli_w.dumps(settings.model_dump(mode="json"))


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write ``settings`` atomically; returns the path written.

    Raises:
        SettingsError: the folder or the file could not be written; the old file (if
            any) is unchanged.
    """
    path = path or settings_path()
    try:
        write_atomically(path, settings_text(settings).encode("utf-8"))
    except OSError as error:
        reason = error.strerror or str(error)
        raise SettingsError(f"cannot save the settings to {path}: {reason}") from error
    _log.info("settings saved to %s", path)
    return path


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a reader or a crash sees old or new, whole.

    A temporary file in the same folder gets the data and is flushed to disk, renamed
    over ``path``, and the folder is flushed so the rename itself survives a power cut.
    The file keeps the old file's permissions (0600 for a new one).
    """
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        _copy_mode(path, temporary)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    fsync_folder(folder)


def _copy_mode(source: Path, target: str) -> None:
    try:
        mode = stat.S_IMODE(source.stat().st_mode)
    except OSError:
        return
    os.chmod(target, mode)


def _remove_stale_temporaries(path: Path) -> None:
    cutoff = time.time() - STALE_TEMPORARY_S
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
                _log.info("removed %s, left by a save that did not finish", leftover)


BACKUP_SUFFIX = ".bak"
MAX_BACKUPS = 100


def set_aside(loaded: LoadedSettings) -> LoadedSettings:
    """Move an unusable settings file aside, so the defaults can be saved in its place.

    The file becomes ``settings.toml.bak``; when a different ``.bak`` is already there,
    ``.bak.1``, ``.bak.2`` and so on, so no earlier backup is overwritten. A backup with
    the same bytes is reused. Nothing happens for a usable or missing file.

    Raises:
        SettingsError: the file could not be moved (it is left where it was).
    """
    if loaded.fault is None or loaded.backup is not None:
        return loaded
    try:
        backup = _keep_aside(loaded.path)
    except OSError as error:
        reason = error.strerror or str(error)
        raise SettingsError(
            f"settings file {loaded.path} {loaded.fault}, and it cannot be moved aside "
            f"({reason}); fix or remove it by hand"
        ) from error
    _log.warning("settings file %s %s; kept as %s", loaded.path, loaded.fault, backup)
    return replace(loaded, backup=backup)


def _keep_aside(path: Path) -> Path:
    for number in itertools.count():
        if number >= MAX_BACKUPS:
            raise OSError(f"{MAX_BACKUPS} backups are there already; remove old ones")
        candidate = path.with_name(path.name + BACKUP_SUFFIX + (f".{number}" if number else ""))
        if candidate.exists() or candidate.is_symlink():
            if _same_bytes(path, candidate):
                path.unlink()
                return candidate
            continue
        # A hard link cannot replace a file that appeared meanwhile; where links are not
        # possible (a folder, some file systems) a rename into the free name does.
        try:
            os.link(path, candidate, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError:
            os.rename(path, candidate)
        else:
            path.unlink()
        fsync_folder(path.parent)
        return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def _same_bytes(first: Path, second: Path) -> bool:
    try:
        return first.is_file() and second.is_file() and first.read_bytes() == second.read_bytes()
    except OSError:
        return False


# ------------------------------------------------------------------------------ store

SettingsListener = Callable[["Settings", "Settings"], None]
"""Called with (old, new) after new settings are in effect."""


class SettingsStore:
    """The settings in effect in the running app, saved as a whole on every change.

    Args:
        loaded: what load_settings (and set_aside) found.
        persist: False keeps changes in memory only (tests, and an app run whose
            settings file could not be moved aside).
        problem: what to tell the player about the file, when not loaded.problem.
    """

    def __init__(
        self, loaded: LoadedSettings, persist: bool = True, problem: str | None = None
    ) -> None:
        self._loaded = loaded
        self._problem = problem or loaded.problem
        self._settings = loaded.settings
        self.persist = persist
        self._listeners: list[SettingsListener] = []

    @classmethod
    def in_memory(cls, settings: Settings | None = None) -> SettingsStore:
        """A store that never writes a file."""
        return cls(LoadedSettings(settings or Settings(), Path("(not saved)")), persist=False)

    @property
    def settings(self) -> Settings:
        """The settings in effect."""
        return self._settings

    @property
    def path(self) -> Path:
        """The settings file."""
        return self._loaded.path

    @property
    def problem(self) -> str | None:
        """What was wrong with the file at start, and where it was kept, or None."""
        return self._problem

    def save(self, settings: Settings) -> None:
        """Save ``settings`` as one file, then put them in effect and tell the listeners.

        Raises:
            SettingsError: the file could not be written; the old settings stay in
                effect and on disk.
        """
        if self.persist:
            save_settings(settings, self._loaded.path)
        old, self._settings = self._settings, settings
        for listener in list(self._listeners):
            try:
                listener(old, settings)
            except Exception:  # one listener's bug must not undo a saved change
                _log.exception("a settings listener failed")

    def subscribe(self, listener: SettingsListener) -> Callable[[], None]:
        """Call ``listener(old, new)`` after every save; returns the unsubscribe call."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)
