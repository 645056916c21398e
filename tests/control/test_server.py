"""The control API over its real socket: every operation, every error, the limits."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from gearshift.control.client import ApiClient, NotRunningError
from gearshift.control.protocol import (
    MAX_MESSAGE_BYTES,
    ErrorCode,
    Event,
    HealthResult,
    Response,
    StatusResult,
    SwitchResultBody,
)
from gearshift.control.server import ApiServer, Limits, SocketInUseError
from gearshift.core.modes import PerformanceMode
from tests.control.rig import ServedApp
from tests.fakes.actions import FakeMachine

COMP = PerformanceMode.COMPETITIVE


def raw(client: ApiClient, line: bytes) -> Response:
    client.send_raw(line)
    message = client.receive()
    assert isinstance(message, Response)
    return message


def test_status_reports_mode_cooldown_preset_frames_and_na_readings(served: ServedApp) -> None:
    with served.client() as client:
        response = client.request("status")
    assert response.ok and response.result is not None
    status = StatusResult.model_validate(response.result)
    assert status.mode == "immersive"
    assert status.applied == ("governor=powersave",)
    assert status.preset == "high"
    assert status.budget_ms == pytest.approx(16.667, abs=0.01)
    assert status.cooldown_left_s == 0
    assert status.frames.frames == 0
    assert status.frames.avg_fps is None and status.frames.p99_ms is None  # N/A, not 0
    assert status.gpu.available is False and status.gpu.reason


def test_status_carries_the_latest_live_statistics(served: ServedApp) -> None:
    served.push_frames([4.0] * 500)
    with served.client() as client:
        status = StatusResult.model_validate(client.request("status").result)
    assert status.frames.frames == 500
    assert status.frames.avg_fps == pytest.approx(250.0)
    assert status.frames.source == "test frames"


def test_switch_changes_the_machine_and_answers_with_the_outcome(served: ServedApp) -> None:
    with served.client() as client:
        first = client.request("switch", mode="competitive")
        again = client.request("switch", mode="competitive")
        toggled = client.request("switch", mode="toggle")
    assert SwitchResultBody.model_validate(first.result).outcome == "switched"
    assert SwitchResultBody.model_validate(again.result).outcome == "already_active"
    assert SwitchResultBody.model_validate(toggled.result).mode == "immersive"
    assert [e.current for e in served.history] == [COMP, PerformanceMode.IMMERSIVE]
    assert served.machine.settings["governor"] == "powersave"


def test_switch_in_cooldown_is_refused_with_the_seconds_left(socket_path: Path) -> None:
    app = ServedApp(socket_path, cooldown_s=30.0)
    try:
        with app.client() as client:
            assert client.request("switch", mode="competitive").ok
            refused = client.request("switch", mode="immersive", id=None)
            forced = client.request("switch", mode="immersive", force=True)
    finally:
        app.close()
    assert refused.error is not None and refused.error.code is ErrorCode.COOLDOWN
    assert 29 < (refused.error.retry_after_s or 0) <= 30
    assert forced.ok


def test_a_switch_during_another_switch_is_busy(socket_path: Path) -> None:
    app = ServedApp(socket_path, machine=FakeMachine(apply_delay_s=0.5))
    try:
        with app.client() as first, app.client() as second:
            first.send_raw(b'{"v": 1, "id": 1, "op": "switch", "mode": "competitive"}\n')
            time.sleep(0.15)
            busy = second.request("switch", mode="immersive")
            assert first.receive().ok  # type: ignore[union-attr]
    finally:
        app.close()
    assert busy.error is not None and busy.error.code is ErrorCode.BUSY


def test_a_failed_switch_reports_the_rollback(socket_path: Path) -> None:
    machine = FakeMachine(fail_apply={"governor=performance"})
    app = ServedApp(socket_path, machine=machine)
    try:
        with app.client() as client:
            response = client.request("switch", mode="competitive")
        assert machine.settings["governor"] == "powersave"
    finally:
        app.close()
    error = response.error
    assert error is not None and error.code is ErrorCode.ROLLED_BACK
    assert error.failed_step == "governor=performance"
    assert error.reverted == ("undo governor=powersave",)
    assert error.not_reverted == ()


def test_health_lists_every_subsystem_with_reasons(served: ServedApp) -> None:
    with served.client() as client:
        health = HealthResult.model_validate(client.request("health").result)
    assert set(health.subsystems) >= {"frames", "gpu", "system_actions", "hotkey"}
    for subsystem in health.subsystems.values():
        assert subsystem.state == "ok" or subsystem.reason
    # No GPU telemetry, no hotkey: the app runs, but not everything works.
    assert health.state == "degraded"


def test_version_names_the_app_and_the_protocol(served: ServedApp) -> None:
    with served.client() as client:
        response = client.request("version")
    assert response.result is not None and response.result["protocol"] == 1


def test_subscribers_get_mode_changes_rollbacks_and_budget_statistics(
    socket_path: Path,
) -> None:
    machine = FakeMachine()
    app = ServedApp(socket_path, machine=machine)
    try:
        with app.client() as watcher, app.client() as actor:
            assert watcher.request("subscribe", rate_hz=10, id="sub").ok
            actor.request("switch", mode="competitive")
            machine.fail_apply.add("governor=powersave")
            actor.request("switch", mode="immersive")
            app.push_frames([3.0] * 100)
            events = watcher.events()
            received = [next(events) for _ in range(3)]
    finally:
        app.close()
    assert [e.event for e in received] == ["mode_changed", "switch_failed", "budget"]
    assert all(e.id == "sub" for e in received)
    assert received[0].data["current"] == "competitive"
    assert received[1].data["failed_step"] == "governor=powersave"
    assert received[2].data["frames"] == 100


def test_budget_events_are_thinned_to_the_subscribers_rate(served: ServedApp) -> None:
    with served.client() as slow, served.client() as fast:
        assert slow.request("subscribe", events=["budget"], rate_hz=1).ok
        assert fast.request("subscribe", events=["budget"], rate_hz=10).ok
        for _ in range(10):  # one second of 10 Hz publishing
            served.push_frames([5.0])
            time.sleep(0.1)
        served.push_frames([5.0])
        fast_events = [next(fast.events()) for _ in range(11)]
        slow.send_raw(b'{"v": 1, "id": "end", "op": "version"}\n')
        slow_messages = []
        while True:
            message = slow.receive()
            if isinstance(message, Response):
                break
            slow_messages.append(message)
    assert len(fast_events) == 11
    assert 1 <= len(slow_messages) <= 3


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"hello\n", ErrorCode.BAD_JSON),
        (b'{"v": 3, "op": "status"}\n', ErrorCode.UNSUPPORTED_VERSION),
        (b'{"v": 1, "op": "dance"}\n', ErrorCode.UNKNOWN_OP),
        (b'{"v": 1, "op": "switch", "mode": 1}\n', ErrorCode.BAD_REQUEST),
    ],
)
def test_a_bad_message_gets_its_error_and_the_connection_stays_usable(
    served: ServedApp, line: bytes, code: ErrorCode
) -> None:
    with served.client() as client:
        response = raw(client, line)
        assert response.error is not None and response.error.code is code
        assert client.request("status").ok
    assert served.mode is PerformanceMode.IMMERSIVE


def test_an_oversized_message_gets_its_error_and_a_clean_close(served: ServedApp) -> None:
    with served.client() as client:
        client.send_raw(b'{"v": 1, "op": "status", "pad": "' + b"x" * MAX_MESSAGE_BYTES)
        response = client.receive()
        assert isinstance(response, Response)
        assert response.error is not None and response.error.code is ErrorCode.TOO_LARGE
        with pytest.raises(ConnectionError):
            client.receive()
    with served.client() as client:  # the server is unharmed
        assert client.request("status").ok


def test_a_message_at_the_size_limit_is_still_served(served: ServedApp) -> None:
    head = b'{"v": 1, "op": "version", "id": "'
    tail = b'"}\n'
    padding = MAX_MESSAGE_BYTES - len(head) - len(tail)
    with served.client() as client:
        response = raw(client, head + b"x" * padding + tail)
    assert response.error is not None and response.error.code is ErrorCode.BAD_REQUEST
    assert response.error.fields == ("id",)  # too long an id, but read whole


def test_a_message_cut_off_by_the_client_is_answered_incomplete(served: ServedApp) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(served.socket_path))
        sock.sendall(b'{"v": 1, "op": "sta')
        sock.shutdown(socket.SHUT_WR)
        answer = sock.makefile("rb").readline()
    assert json.loads(answer)["error"]["code"] == "incomplete"
    with served.client() as client:
        assert client.request("status").ok


def test_switch_requests_are_rate_limited_per_client(socket_path: Path) -> None:
    limits = Limits(switches_per_s=0.5, switch_burst=3)
    app = ServedApp(socket_path, limits=limits)
    try:
        with app.client() as greedy, app.client() as other:
            answers = [greedy.request("switch", mode="toggle") for _ in range(4)]
            limited = answers[-1]
            other_answer = other.request("switch", mode="toggle")
            assert greedy.request("status").ok  # only switches are held back
    finally:
        app.close()
    assert all(a.ok for a in answers[:3])
    assert limited.error is not None and limited.error.code is ErrorCode.RATE_LIMITED
    assert limited.error.limit == "3 at once, then 1 every 2 s"
    assert 0 < (limited.error.retry_after_s or 0) <= 2
    assert other_answer.ok
    assert len(app.history) == 4


def test_switches_from_all_clients_together_are_limited_too(socket_path: Path) -> None:
    limits = Limits(all_switches_per_s=0.5, all_switch_burst=2)
    app = ServedApp(socket_path, limits=limits)
    try:
        answers = []
        for _ in range(3):  # a script that reconnects for every request
            with app.client() as client:
                answers.append(client.request("switch", mode="toggle"))
    finally:
        app.close()
    assert [a.ok for a in answers] == [True, True, False]
    assert answers[2].error is not None and "all clients" in answers[2].error.message


def test_a_subscriber_that_stops_reading_is_disconnected(socket_path: Path) -> None:
    unlimited = Limits(
        backlog=8,
        requests_per_s=1e6,
        request_burst=10**6,
        switches_per_s=1e6,
        switch_burst=10**6,
        all_switches_per_s=1e6,
        all_switch_burst=10**6,
    )
    app = ServedApp(socket_path, limits=unlimited)
    try:
        with app.client() as stalled, app.client() as actor:
            stalled.request("subscribe", events=["mode_changed"])
            # Enough events to fill the socket's buffers and then the backlog.
            for _ in range(4000):
                actor.request("switch", mode="toggle", force=True)
            assert actor.request("status").ok
            deadline = time.monotonic() + 5
            while app.server.clients > 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert app.server.clients == 1
    finally:
        app.close()


def test_the_socket_is_private_to_the_user(served: ServedApp) -> None:
    mode = served.socket_path.stat().st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600
    assert stat.S_IMODE(served.socket_path.parent.stat().st_mode) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another user")
def test_another_user_cannot_connect(served: ServedApp) -> None:
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        pytest.skip("no system python3 to run as another user")
    probe = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        f"    s.connect({str(served.socket_path)!r})\n"
        "except PermissionError:\n"
        "    sys.exit(13)\n"
        "sys.exit(0)\n"
    )
    run = subprocess.run(
        [python, "-c", probe], user=65534, group=65534, capture_output=True, timeout=30
    )
    assert run.returncode == 13, run.stderr


def test_a_peer_of_another_user_is_refused_even_through_open_permissions(
    served: ServedApp,
) -> None:
    """Defence in depth: loosened folder and socket permissions still do not let in
    another user, because the server checks the peer's credentials."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run a client as another user")
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        pytest.skip("no system python3 to run as another user")
    folder = served.socket_path.parent
    os.chmod(folder.parent, 0o755)
    os.chmod(folder, 0o755)
    os.chmod(served.socket_path, 0o666)
    probe = (
        "import socket\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        f"s.connect({str(served.socket_path)!r})\n"
        's.sendall(b\'{"v": 1, "op": "status"}\\n\')\n'
        "print(s.makefile('rb').readline().decode())\n"
    )
    run = subprocess.run(
        [python, "-c", probe],
        user=65534,
        group=65534,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert json.loads(run.stdout)["error"]["code"] == "forbidden", run.stderr


def test_a_second_server_on_a_live_socket_is_refused(served: ServedApp) -> None:
    second = ApiServer(served.service, served.socket_path)
    with pytest.raises(SocketInUseError, match="another Gearshift already answers"):
        served.call(second.start())
    with served.client() as client:
        assert client.request("status").ok


def test_a_stale_socket_from_a_killed_app_is_replaced(socket_path: Path) -> None:
    socket_path.parent.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(socket_path))
    stale.close()  # the file stays, nothing listens: what kill -9 leaves
    app = ServedApp(socket_path)
    try:
        with app.client() as client:
            assert client.request("status").ok
    finally:
        app.close()
    assert not socket_path.exists()


def test_a_regular_file_at_the_socket_path_is_not_deleted(socket_path: Path) -> None:
    socket_path.parent.mkdir(mode=0o700)
    socket_path.write_text("the user's file")
    with pytest.raises(OSError):
        ServedApp(socket_path)
    assert socket_path.read_text() == "the user's file"


def test_the_client_says_not_running_when_nothing_answers(socket_path: Path) -> None:
    with pytest.raises(NotRunningError, match="not running"):
        ApiClient(socket_path).connect()


def test_events_carry_timestamps(served: ServedApp) -> None:
    with served.client() as watcher, served.client() as actor:
        watcher.request("subscribe", events=["mode_changed"])
        actor.request("switch", mode="competitive")
        event = next(watcher.events())
    assert isinstance(event, Event)
    assert event.at.tzinfo is not None
