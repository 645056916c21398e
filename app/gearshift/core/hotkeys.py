"""Global hotkeys in words: what a key combination is, which ones are refused, what a
press asks for.

The settings hold hotkeys as Qt key-sequence text ("Ctrl+Shift+F10"), the form Qt's
key-sequence field records. Each way of listening wants its own spelling: pynput
``<ctrl>+<shift>+<f10>``, the XDG desktop portal ``CTRL+SHIFT+F10`` (the freedesktop
shortcuts specification: xkbcommon modifier and key names joined by ``+``). This module
reads the Qt text once into a KeyCombo and writes the others from it, so the refusals
(console switching, combinations typing would fire) are decided in one place.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gearshift.core.errors import HotkeyError
from gearshift.core.modes import PerformanceMode


class Modifier(enum.Enum):
    """A modifier key, in the order Qt writes them."""

    META = "Meta"
    """The Super (Windows, logo) key; Qt calls it Meta."""

    CTRL = "Ctrl"
    ALT = "Alt"
    SHIFT = "Shift"


_MODIFIER_NAMES = {
    "meta": Modifier.META,
    "super": Modifier.META,
    "win": Modifier.META,
    "ctrl": Modifier.CTRL,
    "control": Modifier.CTRL,
    "alt": Modifier.ALT,
    "shift": Modifier.SHIFT,
}
"""The spellings accepted for each modifier, lower case."""

_PYNPUT_MODIFIERS = {
    Modifier.META: "<cmd>",
    Modifier.CTRL: "<ctrl>",
    Modifier.ALT: "<alt>",
    Modifier.SHIFT: "<shift>",
}
_PORTAL_MODIFIERS = {
    Modifier.META: "LOGO",
    Modifier.CTRL: "CTRL",
    Modifier.ALT: "ALT",
    Modifier.SHIFT: "SHIFT",
}

MAX_FUNCTION_KEY = 20
"""F1 to F20: the function keys pynput can listen for on X11 (Windows has F24)."""


@dataclass(frozen=True)
class _Key:
    qt: str
    """Qt's portable name, as written back into the settings."""
    pynput: str
    portal: str
    """The xkbcommon keysym name."""
    alone_ok: bool = False
    """Whether the key may be a hotkey without Ctrl, Alt or Meta (typing never sends it)."""


def _named_keys() -> dict[str, _Key]:
    keys = [
        _Key("Space", "<space>", "space"),
        _Key("Tab", "<tab>", "Tab"),
        _Key("Return", "<enter>", "Return"),
        _Key("Enter", "<enter>", "KP_Enter"),
        _Key("Esc", "<esc>", "Escape"),
        _Key("Backspace", "<backspace>", "BackSpace"),
        _Key("Del", "<delete>", "Delete"),
        _Key("Ins", "<insert>", "Insert", alone_ok=True),
        _Key("Home", "<home>", "Home"),
        _Key("End", "<end>", "End"),
        _Key("PgUp", "<page_up>", "Prior"),
        _Key("PgDown", "<page_down>", "Next"),
        _Key("Left", "<left>", "Left"),
        _Key("Right", "<right>", "Right"),
        _Key("Up", "<up>", "Up"),
        _Key("Down", "<down>", "Down"),
        _Key("Pause", "<pause>", "Pause", alone_ok=True),
        _Key("Print", "<print_screen>", "Print", alone_ok=True),
        _Key("ScrollLock", "<scroll_lock>", "Scroll_Lock", alone_ok=True),
        _Key("Menu", "<menu>", "Menu"),
    ]
    keys += [
        _Key(f"F{n}", f"<f{n}>", f"F{n}", alone_ok=True) for n in range(1, MAX_FUNCTION_KEY + 1)
    ]
    punctuation = {
        ",": "comma",
        ".": "period",
        "/": "slash",
        ";": "semicolon",
        "'": "apostrophe",
        "[": "bracketleft",
        "]": "bracketright",
        "\\": "backslash",
        "-": "minus",
        "=": "equal",
        "`": "grave",
    }
    keys += [_Key(char, char, name) for char, name in punctuation.items()]
    keys += [_Key(char, char.lower(), char.lower()) for char in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    keys += [_Key(digit, digit, digit) for digit in "0123456789"]
    return {key.qt.lower(): key for key in keys}


_KEYS = _named_keys()
_ALIASES = {
    "escape": "esc",
    "delete": "del",
    "insert": "ins",
    "pageup": "pgup",
    "pagedown": "pgdown",
    "printscreen": "print",
}
"""Other spellings people write for Qt's key names."""

_CONSOLE_KEYS = frozenset(f"F{n}" for n in range(1, 13)) | {"Backspace", "Del"}
"""Keys that, with Ctrl and Alt held, belong to the system: F1 to F12 switch to a text
console, Backspace ends the X session where that is enabled, Delete logs out."""


@dataclass(frozen=True)
class KeyCombo:
    """One key combination: modifiers held and one key pressed.

    Attributes:
        modifiers: the modifiers, in Qt's order.
        key: the key's Qt name, e.g. "F10", "K", "PgDown".
    """

    modifiers: tuple[Modifier, ...]
    key: str

    @property
    def text(self) -> str:
        """Qt's key-sequence text, e.g. "Ctrl+Shift+F10"."""
        return "+".join([*(m.value for m in self.modifiers), self.key])

    def pynput(self) -> str:
        """pynput's hotkey text, e.g. "<ctrl>+<shift>+<f10>"."""
        key = _KEYS[self.key.lower()]
        return "+".join([*(_PYNPUT_MODIFIERS[m] for m in self.modifiers), key.pynput])

    def portal_trigger(self) -> str:
        """The desktop portal's trigger text, e.g. "CTRL+SHIFT+F10"."""
        key = _KEYS[self.key.lower()]
        return "+".join([*(_PORTAL_MODIFIERS[m] for m in self.modifiers), key.portal])


def parse_key_sequence(text: str) -> KeyCombo:
    """Read Qt key-sequence text ("Ctrl+Shift+F10") into a KeyCombo.

    Case and the order of the modifiers do not matter. Raises HotkeyError with one line
    saying what is wrong: not one combination, an unknown name, no key, a combination
    the system owns (Ctrl+Alt+F1 to F12 switch consoles), or one that typing would fire.
    """
    stripped = text.strip()
    if not stripped:
        raise HotkeyError("no combination given")
    if ", " in stripped:
        raise HotkeyError(f"'{text}' is several combinations: give one, e.g. Ctrl+Shift+F10")
    if stripped.endswith("++") or stripped == "+":
        raise HotkeyError(f"'{text}': the + key cannot be a hotkey's key; pick another key")

    *modifier_names, key_name = [part.strip() for part in stripped.split("+")]
    modifiers = set()
    for name in modifier_names:
        modifier = _MODIFIER_NAMES.get(name.lower())
        if modifier is None:
            raise HotkeyError(
                f"'{text}': '{name}' is not a modifier (use Ctrl, Alt, Shift or Meta)"
            )
        modifiers.add(modifier)
    combo = KeyCombo(tuple(m for m in Modifier if m in modifiers), _key(text, key_name))
    _refuse_reserved(combo)
    return combo


def _key(text: str, name: str) -> str:
    if not name:
        raise HotkeyError(f"'{text}' has no key after the modifiers")
    if name.lower() in _MODIFIER_NAMES:
        raise HotkeyError(f"'{text}' has only modifiers: add a key, e.g. F10")
    found = _KEYS.get(_ALIASES.get(name.lower(), name.lower()))
    if found is None:
        if name[:1] in "Ff" and name[1:].isdigit():
            raise HotkeyError(
                f"'{text}': the hotkey listener knows F1 to F{MAX_FUNCTION_KEY} only"
            )
        raise HotkeyError(f"'{text}': '{name}' is not a key Gearshift can listen for")
    return found.qt


def _refuse_reserved(combo: KeyCombo) -> None:
    held = set(combo.modifiers)
    if {Modifier.CTRL, Modifier.ALT} <= held and combo.key in _CONSOLE_KEYS:
        what = (
            "switches to a text console on Linux"
            if combo.key.startswith("F")
            else "belongs to the system (log out, or end the X session)"
        )
        raise HotkeyError(f"'{combo.text}' {what}; pick another combination")
    if (
        not held & {Modifier.CTRL, Modifier.ALT, Modifier.META}
        and not _KEYS[combo.key.lower()].alone_ok
    ):
        raise HotkeyError(
            f"'{combo.text}' would fire while typing: hold Ctrl, Alt or Meta with it"
        )


SHORTCUT_ADVICE = (
    "bind 'gearshift ctl switch toggle' (Immersive and back), or 'gearshift ctl switch "
    "competitive' and 'gearshift ctl switch immersive', to keys in the desktop's keyboard "
    "shortcut settings"
)
"""What to do where Gearshift cannot listen for keys itself."""


class HotkeyAction(enum.Enum):
    """What a hotkey does."""

    ENTER_COMPETITIVE = "enter_competitive"
    """Enters Competitive; pressed in Competitive, returns to Immersive."""

    TOGGLE = "toggle"
    """Switches to the mode that is not active."""

    @property
    def description(self) -> str:
        """What the key does, as a desktop's shortcut list shows it."""
        if self is HotkeyAction.ENTER_COMPETITIVE:
            return "Gearshift: enter Competitive mode (again: back to Immersive)"
        return "Gearshift: switch between Immersive and Competitive"

    def target(self, mode: PerformanceMode) -> PerformanceMode:
        """The mode a press asks for while ``mode`` is active."""
        if self is HotkeyAction.ENTER_COMPETITIVE and mode is not PerformanceMode.COMPETITIVE:
            return PerformanceMode.COMPETITIVE
        if self is HotkeyAction.ENTER_COMPETITIVE:
            return PerformanceMode.IMMERSIVE
        return mode.other


@dataclass(frozen=True)
class Binding:
    """One hotkey: the combination and what it does."""

    combo: KeyCombo
    action: HotkeyAction


def bindings_from_text(
    enter_competitive: str, toggle: str
) -> tuple[tuple[Binding, ...], tuple[str, ...]]:
    """The hotkeys the settings ask for, and one line per hotkey that cannot be used.

    Empty text turns that hotkey off. Two hotkeys on the same combination keep the first.
    """
    bindings: list[Binding] = []
    problems: list[str] = []
    asked = ((HotkeyAction.ENTER_COMPETITIVE, enter_competitive), (HotkeyAction.TOGGLE, toggle))
    for action, text in asked:
        if not text.strip():
            continue
        try:
            combo = parse_key_sequence(text)
        except HotkeyError as error:
            problems.append(f"{action.value} hotkey: {error}")
            continue
        if any(b.combo == combo for b in bindings):
            problems.append(
                f"{action.value} hotkey: '{combo.text}' is already the "
                f"{bindings[0].action.value} hotkey; pick another combination"
            )
            continue
        bindings.append(Binding(combo, action))
    return tuple(bindings), tuple(problems)
