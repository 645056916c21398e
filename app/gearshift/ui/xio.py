"""When the X server goes away, the app undoes its mode before the process ends.

Qt notices a dead X connection in one of two places. Usually its xcb event reader ends
the event loop, and the app undoes the mode on the way out. But when Qt is inside an
Xlib call at that moment, Xlib's fatal I/O error path runs instead, and its default exit
path runs instead: Qt's I/O error handler prints a line and hands over to Xlib's
default one, which calls exit() on the spot. No Python code would run, and Competitive
mode would stay applied. So the app installs its own Xlib I/O error handler, which runs
the same undo as the first path and ends the process itself. It must not return: Xlib
exits when it does (libX11 1.7's XSetIOErrorExitHandler lets a client carry on, but
libX11 1.8 then crashes on Qt's next request).
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from collections.abc import Callable

from PySide6.QtGui import QGuiApplication

_log = logging.getLogger(__name__)

_IO_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)

_on_lost: list[Callable[[], int]] = []


def _exit_after_undo(display: int | None) -> int:
    print("gearshift: the X server connection broke", file=sys.stderr)
    status = 1
    try:
        status = _on_lost[0]()
    except BaseException:  # the process ends here whatever happened; say what it was
        _log.exception("undoing the mode after losing the X server failed")
    finally:
        sys.stderr.flush()
        logging.shutdown()
        os._exit(status)


# Kept for the life of the process: Xlib holds only the C pointer to it.
_HANDLER = _IO_ERROR_HANDLER(_exit_after_undo)


def exit_through(app: QGuiApplication, on_lost: Callable[[], int]) -> bool:
    """On X11, make losing the X server inside an Xlib call run ``on_lost`` and exit
    with the status it returns, instead of Xlib exiting at once.

    ``on_lost`` runs on the GUI thread while Qt is stopped inside Xlib: it must not
    touch Qt or wait on the event loop. Returns False where there is nothing to do or
    it cannot be done (not X11, no libX11 to load).
    """
    if app.platformName() != "xcb":
        return False
    try:
        set_handler = ctypes.CDLL("libX11.so.6").XSetIOErrorHandler
    except (OSError, AttributeError):
        _log.info("no libX11 to load: losing the X server may end the app before undo")
        return False
    set_handler.argtypes = [_IO_ERROR_HANDLER]
    set_handler.restype = ctypes.c_void_p
    _on_lost[:] = [on_lost]
    set_handler(_HANDLER)  # replaces Qt's, which only prints before Xlib's exit()
    return True
