"""One Gearshift per user: a second start wakes the first and exits."""

from __future__ import annotations

import getpass
import logging
import os
import re

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

_log = logging.getLogger(__name__)

WAKE_MESSAGE = b"show\n"
CONNECT_TIMEOUT_MS = 1000


INSTANCE_ENV = "GEARSHIFT_INSTANCE"
_PLAIN_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def instance_name() -> str:
    """The local socket name for this user; $GEARSHIFT_INSTANCE overrides it (tests).

    Only a plain name is taken: the name becomes a socket file that a stale one is
    removed from, so a path here could delete a file of the user's.
    """
    default = f"gearshift-{getpass.getuser()}"
    wanted = os.environ.get(INSTANCE_ENV)
    if not wanted:
        return default
    if not _PLAIN_NAME.fullmatch(wanted):
        _log.warning("ignoring %s=%r: use letters, digits, '.', '_' or '-'", INSTANCE_ENV, wanted)
        return default
    return wanted


class SingleInstance(QObject):
    """Claims the per-user name; ``woken`` fires when a later start asks to be shown."""

    woken = Signal()

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self.name = name or instance_name()
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_connection)

    def claim(self) -> bool:
        """Become the running instance; False when another one answers.

        The running instance is asked first: with UserAccessOption set, Qt's listen()
        replaces an existing socket file instead of failing, so listening first would
        quietly take the name from a live instance.
        """
        if self.wake_running():
            return False
        QLocalServer.removeServer(self.name)  # a socket left over from a crash
        if not self._server.listen(self.name):
            _log.warning("could not claim %s: %s", self.name, self._server.errorString())
        return True  # run even unclaimed: a second window beats no window

    def wake_running(self) -> bool:
        """Ask the running instance to show its window; True when it was told."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
            return False
        socket.write(WAKE_MESSAGE)
        socket.waitForBytesWritten(CONNECT_TIMEOUT_MS)
        socket.disconnectFromServer()
        return True

    def release(self) -> None:
        """Give the name up, on quit."""
        self._server.close()

    def _on_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            socket.readyRead.connect(lambda s=socket: self._on_message(s))
            socket.disconnected.connect(socket.deleteLater)

    def _on_message(self, socket: QLocalSocket) -> None:
        if bytes(socket.readAll().data()).strip() == WAKE_MESSAGE.strip():
            _log.info("another start asked for the window")
            self.woken.emit()
