"""Hotkey combinations: Qt text in, pynput and portal text out, the refusals."""

from __future__ import annotations

import pytest

from gearshift.config import DEFAULT_ENTER_COMPETITIVE
from gearshift.core.errors import HotkeyError
from gearshift.core.hotkeys import (
    HotkeyAction,
    KeyCombo,
    Modifier,
    bindings_from_text,
    parse_key_sequence,
)
from gearshift.core.modes import PerformanceMode

IMM, COMP = PerformanceMode.IMMERSIVE, PerformanceMode.COMPETITIVE


@pytest.mark.parametrize(
    ("text", "qt", "pynput", "portal"),
    [
        ("Ctrl+Shift+F10", "Ctrl+Shift+F10", "<ctrl>+<shift>+<f10>", "CTRL+SHIFT+F10"),
        ("shift+ctrl+f10", "Ctrl+Shift+F10", "<ctrl>+<shift>+<f10>", "CTRL+SHIFT+F10"),
        (
            "Meta+Alt+Ctrl+Shift+K",
            "Meta+Ctrl+Alt+Shift+K",
            "<cmd>+<ctrl>+<alt>+<shift>+k",
            "LOGO+CTRL+ALT+SHIFT+k",
        ),
        ("Super+G", "Meta+G", "<cmd>+g", "LOGO+g"),
        ("Ctrl+PgDown", "Ctrl+PgDown", "<ctrl>+<page_down>", "CTRL+Next"),
        ("ctrl+pagedown", "Ctrl+PgDown", "<ctrl>+<page_down>", "CTRL+Next"),
        ("Alt+Return", "Alt+Return", "<alt>+<enter>", "ALT+Return"),
        ("Ctrl+Escape", "Ctrl+Esc", "<ctrl>+<esc>", "CTRL+Escape"),
        ("Ctrl+,", "Ctrl+,", "<ctrl>+,", "CTRL+comma"),
        ("Ctrl + Alt + 7", "Ctrl+Alt+7", "<ctrl>+<alt>+7", "CTRL+ALT+7"),
        ("Pause", "Pause", "<pause>", "Pause"),
        ("F13", "F13", "<f13>", "F13"),
        ("Ctrl+Alt+F13", "Ctrl+Alt+F13", "<ctrl>+<alt>+<f13>", "CTRL+ALT+F13"),
    ],
)
def test_qt_text_is_read_and_written_for_each_listener(
    text: str, qt: str, pynput: str, portal: str
) -> None:
    combo = parse_key_sequence(text)

    assert combo.text == qt
    assert combo.pynput() == pynput
    assert combo.portal_trigger() == portal
    assert parse_key_sequence(combo.text) == combo  # the settings' text round-trips


def test_the_default_is_ctrl_shift_f10() -> None:
    assert parse_key_sequence(DEFAULT_ENTER_COMPETITIVE) == KeyCombo(
        (Modifier.CTRL, Modifier.SHIFT), "F10"
    )


@pytest.mark.parametrize("number", range(1, 13))
def test_ctrl_alt_function_keys_are_refused_as_console_switching(number: int) -> None:
    for text in (f"Ctrl+Alt+F{number}", f"Ctrl+Alt+Shift+F{number}", f"alt+ctrl+f{number}"):
        with pytest.raises(HotkeyError, match="switches to a text console"):
            parse_key_sequence(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no combination"),
        ("   ", "no combination"),
        ("Ctrl+A, Ctrl+B", "several combinations"),
        ("Ctrl++", "the \\+ key cannot"),
        ("Ctrl+Shift", "only modifiers"),
        ("Ctrl+", "no key after the modifiers"),
        ("Hyper+F10", "'Hyper' is not a modifier"),
        ("Ctrl+Banana", "'Banana' is not a key"),
        ("Ctrl+F21", "F1 to F20 only"),
        ("K", "would fire while typing"),
        ("Shift+K", "would fire while typing"),
        ("Space", "would fire while typing"),
        ("Ctrl+Alt+Backspace", "belongs to the system"),
        ("Ctrl+Alt+Del", "belongs to the system"),
    ],
)
def test_unusable_combinations_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(HotkeyError, match=reason):
        parse_key_sequence(text)


def test_enter_competitive_goes_back_when_pressed_in_competitive() -> None:
    enter = HotkeyAction.ENTER_COMPETITIVE
    assert enter.target(IMM) is COMP
    assert enter.target(COMP) is IMM
    assert HotkeyAction.TOGGLE.target(IMM) is COMP
    assert HotkeyAction.TOGGLE.target(COMP) is IMM


def test_bindings_skip_empty_and_report_refused_and_duplicate_hotkeys() -> None:
    bindings, problems = bindings_from_text("Ctrl+Shift+F10", "")
    assert [(b.combo.text, b.action) for b in bindings] == [
        ("Ctrl+Shift+F10", HotkeyAction.ENTER_COMPETITIVE)
    ]
    assert problems == ()

    bindings, problems = bindings_from_text("Ctrl+Alt+F2", "Meta+G")
    assert [b.action for b in bindings] == [HotkeyAction.TOGGLE]
    assert len(problems) == 1 and "enter_competitive hotkey" in problems[0]
    assert "text console" in problems[0]

    bindings, problems = bindings_from_text("Ctrl+Shift+F10", "shift+ctrl+F10")
    assert len(bindings) == 1
    assert problems == (
        "toggle hotkey: 'Ctrl+Shift+F10' is already the enter_competitive hotkey; "
        "pick another combination",
    )
