"""Version 1 of the local control protocol: JSON lines over a socket only the user opens.

Every message is one JSON object on one line of UTF-8, newline included at most
MAX_MESSAGE_BYTES long. A client sends requests; the server answers each with one
response carrying the request's ``id``, and, after ``subscribe``, also sends events::

    -> {"v": 1, "id": 1, "op": "switch", "mode": "competitive"}
    <- {"v": 1, "id": 1, "ok": true, "result": {"outcome": "switched", ...}}
    -> {"v": 1, "id": 2, "op": "switch", "mode": "immersive"}
    <- {"v": 1, "id": 2, "ok": false, "error": {"code": "cooldown", "message": "...",
        "fields": [], "retry_after_s": 4.2}}

This module is the whole protocol: the pydantic models of every message, the parser
that turns a line into a request or a ProtocolError, and the encoder. It does no I/O.
"""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024
"""The longest message either side accepts, newline included."""

MAX_RATE_HZ = 10.0
"""The fastest budget statistics can be streamed: as often as the app computes them."""

ModeName: TypeAlias = Literal["immersive", "competitive"]
EventName: TypeAlias = Literal["mode_changed", "switch_failed", "budget"]
EVENT_NAMES: tuple[EventName, ...] = ("mode_changed", "switch_failed", "budget")
RequestId: TypeAlias = StrictInt | Annotated[str, StringConstraints(max_length=64)] | None


class ErrorCode(enum.StrEnum):
    """What went wrong with a request, for scripts to branch on."""

    BAD_JSON = "bad_json"
    """The line is not UTF-8 JSON."""
    BAD_REQUEST = "bad_request"
    """Valid JSON, but not a valid request: ``fields`` names the parts at fault."""
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_OP = "unknown_op"
    TOO_LARGE = "too_large"
    """Longer than MAX_MESSAGE_BYTES; the connection is closed after this error."""
    INCOMPLETE = "incomplete"
    """The connection ended in the middle of a message."""
    RATE_LIMITED = "rate_limited"
    COOLDOWN = "cooldown"
    BUSY = "busy"
    ROLLED_BACK = "rolled_back"
    NOT_READY = "not_ready"
    """The app is starting or quitting and takes no switch now."""
    FORBIDDEN = "forbidden"
    """The peer runs as another user."""
    SLOW_CONSUMER = "slow_consumer"
    """A subscriber fell too far behind the event stream and was disconnected."""
    INTERNAL = "internal"


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------------------- requests


class _Request(_Message):
    v: Literal[1]
    id: RequestId = None


class StatusRequest(_Request):
    """The app's state now."""

    op: Literal["status"]


class SwitchRequest(_Request):
    """Switch mode; ``toggle`` goes to the mode that is not active."""

    op: Literal["switch"]
    mode: ModeName | Literal["toggle"]
    force: StrictBool = False


class SubscribeRequest(_Request):
    """Stream events on this connection until it closes."""

    op: Literal["subscribe"]
    events: Annotated[tuple[EventName, ...], Field(min_length=1)] = EVENT_NAMES
    rate_hz: Annotated[float, Field(gt=0, le=MAX_RATE_HZ, allow_inf_nan=False, strict=True)] = 1.0
    """How many ``budget`` events a second, at most."""


class HealthRequest(_Request):
    """Each subsystem's health."""

    op: Literal["health"]


class VersionRequest(_Request):
    """The app's and the protocol's versions."""

    op: Literal["version"]


Request: TypeAlias = Annotated[
    StatusRequest | SwitchRequest | SubscribeRequest | HealthRequest | VersionRequest,
    Field(discriminator="op"),
]
OPERATIONS = ("status", "switch", "subscribe", "health", "version")
_REQUEST = TypeAdapter[Request](Request)


# ---------------------------------------------------------------------------- responses


class ErrorBody(_Message):
    """Why a request was not done.

    Attributes:
        code: the kind of error, for scripts.
        message: one line for a person: what is wrong and what to do.
        fields: the request's fields at fault, as dotted paths.
        retry_after_s: for rate_limited and cooldown, when trying again can succeed.
        limit: for rate_limited, the limit that was hit, in words.
        failed_step, reverted, not_reverted: for rolled_back, what the rollback did.
    """

    code: ErrorCode
    message: str
    fields: tuple[str, ...] = ()
    retry_after_s: float | None = None
    limit: str | None = None
    failed_step: str | None = None
    reverted: tuple[str, ...] | None = None
    not_reverted: tuple[str, ...] | None = None


class Response(_Message):
    """The answer to one request: ``result`` when ``ok``, else ``error``."""

    v: Literal[1] = 1
    id: RequestId = None
    ok: bool
    result: dict[str, Any] | None = None
    error: ErrorBody | None = None


class FrameStats(_Message):
    """The live frame times over the rolling window; readings None when none arrived."""

    source: str
    window_s: float
    frames: int
    budget_ms: float
    avg_fps: float | None
    low1_fps: float | None
    p99_ms: float | None
    over_budget_pct: float | None


class GpuStatus(_Message):
    """The followed GPU's readings, or why there are none.

    ``readings`` holds every numeric reading by name, with its unit in the name
    (``temperature_c``, ``power_w``, ``clock_graphics_mhz``); a reading the card does
    not give is null, never 0.
    """

    available: bool
    reason: str | None = None
    """Why there is no telemetry (when ``available`` is false), with what would fix it."""
    index: int | None = None
    name: str | None = None
    uuid: str | None = None
    followed_why: str | None = None
    """Why these numbers come from this GPU ("it drives the display")."""
    state: Literal["ok", "lost"] | None = None
    problem: str | None = None
    """Why the followed GPU is not answering, when it is lost."""
    readings: dict[str, float | None] = {}
    performance_state: int | None = None
    throttle_reasons: tuple[str, ...] | None = None
    gpus: int = 0
    """How many NVIDIA GPUs there are."""
    lost: tuple[int, ...] = ()
    """The indexes of the GPUs not answering."""


class StatusResult(_Message):
    """The answer to ``status``."""

    mode: ModeName
    since: datetime
    """When the mode became active (local time, with its UTC offset)."""
    switching_to: ModeName | None
    applied: tuple[str, ...]
    cooldown_s: float
    cooldown_left_s: float
    preset: str
    preset_why: str | None = None
    """Why the active mode has this preset (the card, the measured frame rate)."""
    budget_ms: float
    fps_min: float
    fps_max: float | None
    frames: FrameStats
    gpu: GpuStatus


class SwitchResultBody(_Message):
    """The answer to a ``switch`` that did not fail: it switched, or nothing needed to."""

    outcome: Literal["switched", "already_active"]
    mode: ModeName
    duration_ms: float | None


class SubsystemHealth(_Message):
    """One subsystem: ok, or degraded / unavailable with the reason in words."""

    state: Literal["ok", "degraded", "unavailable"]
    reason: str | None = None


class HealthResult(_Message):
    """The answer to ``health``; ``state`` is ``ok`` when every subsystem is, else
    ``degraded``: the app runs, but something it offers does not work."""

    state: Literal["ok", "degraded", "unavailable"]
    subsystems: dict[str, SubsystemHealth]


class VersionResult(_Message):
    """The answer to ``version``."""

    app: str
    protocol: int
    protocols: tuple[int, ...]


class SubscribeResult(_Message):
    """The answer to ``subscribe``; events follow, carrying the subscribe's ``id``."""

    events: tuple[EventName, ...]
    rate_hz: float


# ------------------------------------------------------------------------------- events


class ModeChangedData(_Message):
    previous: ModeName
    current: ModeName
    forced: bool
    duration_ms: float


class SwitchFailedData(_Message):
    target: ModeName
    message: str
    failed_step: str
    reverted: tuple[str, ...]
    not_reverted: tuple[str, ...]


class Event(_Message):
    """One event of a subscription; ``data`` is ModeChangedData, SwitchFailedData or
    FrameStats by ``event``."""

    v: Literal[1] = 1
    id: RequestId = None
    event: EventName
    at: datetime
    data: dict[str, Any]


# ------------------------------------------------------------------------------ parsing


class ProtocolError(Exception):
    """A message that cannot be served, with the error to answer it with.

    Attributes:
        body: the error to send back.
        request_id: the id of the offending request, where one could be read.
    """

    def __init__(self, body: ErrorBody, request_id: int | str | None = None) -> None:
        super().__init__(body.message)
        self.body = body
        self.request_id = request_id


def _error(code: ErrorCode, message: str, *fields: str) -> ErrorBody:
    return ErrorBody(code=code, message=message, fields=fields)


def parse_request(line: bytes) -> Request:
    """One request from one line (the newline may be there or not).

    Raises:
        ProtocolError: for anything that is not a valid v1 request; its body says what.
    """
    try:
        document = json.loads(line, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        where = f" ({error})" if isinstance(error, json.JSONDecodeError) else ""
        raise ProtocolError(
            _error(ErrorCode.BAD_JSON, f"the message is not valid UTF-8 JSON{where}")
        ) from None
    if not isinstance(document, dict):
        raise ProtocolError(
            _error(
                ErrorCode.BAD_REQUEST, 'a request is a JSON object, e.g. {"v": 1, "op": "status"}'
            )
        )
    request_id = _readable_id(document.get("id"))
    version = document.get("v")
    if "v" not in document:
        raise ProtocolError(
            _error(ErrorCode.BAD_REQUEST, 'a request needs "v": 1 (the protocol version)', "v"),
            request_id,
        )
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise ProtocolError(
            _error(
                ErrorCode.UNSUPPORTED_VERSION,
                f'protocol version {_short(version)} is not spoken here: use "v": '
                f"{PROTOCOL_VERSION}",
                "v",
            ),
            request_id,
        )
    op = document.get("op")
    if op not in OPERATIONS:
        what = 'a request needs an "op"' if op is None else f"unknown op {_short(op)}"
        raise ProtocolError(
            _error(ErrorCode.UNKNOWN_OP, f"{what}: use one of {', '.join(OPERATIONS)}", "op"),
            request_id,
        )
    try:
        return _REQUEST.validate_python(document)
    except ValidationError as error:
        raise ProtocolError(_validation_error(error), request_id) from None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _readable_id(value: object) -> int | str | None:
    """The request's id if it is one a response may echo, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and len(value) <= 64):
        return value
    return None


def _short(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _validation_error(error: ValidationError) -> ErrorBody:
    problems = error.errors(include_url=False, include_input=False)
    fields = []
    for problem in problems:
        location = list(problem["loc"])
        # The discriminated union puts the op first, and a union field adds the name
        # of each member it tried ("int", "literal[...]"); list indices are kept.
        if location and location[0] in OPERATIONS:
            location = location[1:]
        kept = [str(part) for part in location[:1]]
        kept += [str(part) for part in location[1:] if isinstance(part, int)]
        fields.append(".".join(kept) or "request")
    first = problems[0]
    message = f"{fields[0]}: {first['msg'].lower()}"
    if first["type"] == "extra_forbidden":
        message = f"{fields[0]}: not a field of this request"
    return ErrorBody(
        code=ErrorCode.BAD_REQUEST,
        message=message,
        fields=tuple(
            name
            for name in dict.fromkeys(fields)
            if not any(other.startswith(name + ".") for other in fields)
        ),
    )


def encode(message: BaseModel) -> bytes:
    """One message as a line of compact JSON."""
    return message.model_dump_json(exclude_none=False).encode() + b"\n"


def parse_response(line: bytes) -> Response | Event:
    """A server message, for clients. Raises ValueError when it is neither kind."""
    document = json.loads(line)
    if isinstance(document, dict) and "event" in document:
        return Event.model_validate(document)
    return Response.model_validate(document)
