"""Hypothesis strategies for OCPP-J frames a charger might send, broken in every way we know,
and the oracle that says which replies the Central System owes each of them.

A generated frame is ``Frame(data, note)``: ``data`` is the text (or bytes) sent
as is, with ``ID`` standing for a message id the test replaces with a fresh one of
``ID_LENGTH`` characters per example (a repeated id would be answered from the
resend cache, rule 4).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import orjson
from hypothesis import strategies as st

from tests.ocpp_samples import VALID

ID = "@ID@"
ID_LENGTH = 12  # the fresh ids the test puts in: f"fz{n:010d}"
MAX_FRAME = 64 * 1024  # the charger route's websocket_max_message_size
# OCPP-J 1.6 CALLERROR codes, spelled as the errata has them (OCPP_RULES 3); written out here,
# not imported, so a misspelling in ocppj.errors would be caught.
ERROR_CODES = frozenset(
    {
        "NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError",
        "FormationViolation", "PropertyConstraintViolation", "OccurenceConstraintViolation",
        "TypeConstraintViolation", "GenericError",
    }
)  # fmt: skip
CHARGER_ACTIONS = (
    "Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification",
    "FirmwareStatusNotification", "Heartbeat", "LogStatusNotification", "MeterValues",
    "SecurityEventNotification", "SignCertificate", "SignedFirmwareStatusNotification",
    "StartTransaction", "StatusNotification", "StopTransaction",
)  # fmt: skip
OTHER_ACTIONS = ("Reset", "RemoteStartTransaction", "GetConfiguration", "Foo", "heartbeat", " ")


@dataclass(frozen=True)
class Frame:
    """One frame to send: text (or bytes) with ``ID`` placeholders, and how it was made."""

    data: str | bytes
    note: str

    def with_id(self, unique_id: str) -> str | bytes:
        """The frame with its placeholder replaced by ``unique_id``."""
        if isinstance(self.data, bytes):
            return self.data
        return self.data.replace(json.dumps(ID), json.dumps(unique_id))


# -- JSON values -------------------------------------------------------------------------

HUGE_NUMBERS = st.sampled_from(
    [2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**30, -(10**30),
     1e308, -1e308, 5e-324, 1.5, -0.0, -1]
)  # fmt: skip
EDGE_DATES = st.sampled_from(
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00Z",
     "2024-02-30T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T12:30:00.1234567890123Z",
     "2024-05-01T12:30:00+25:00", "2024-05-01T12:30:00", "2024-05-01", "٢024-05-01T12:30:00Z"]
)  # fmt: skip
TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
SCALARS = (
    st.none() | st.booleans() | st.integers() | HUGE_NUMBERS
    | st.floats(allow_nan=False, allow_infinity=False) | TEXT
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


def dumps(value: Any, ascii_only: bool = False) -> str:
    """JSON text of ``value`` (big integers kept exact, as a peer could send them)."""
    return json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":"))


# -- mutations of valid CALLs ------------------------------------------------------------


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside ``value`` (dict keys and list indexes)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


def _set(root: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = root
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return root


def _delete(root: Any, path: tuple) -> Any:
    if not path:
        return root
    parent = root
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    return root


@st.composite
def mutated_payload(draw, action: str) -> Any:
    """A valid sample payload of ``action`` with zero to three things broken."""
    payload = copy.deepcopy(draw(st.sampled_from(VALID[action])))
    for _ in range(draw(st.integers(0, 3))):
        paths = _paths(payload)
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["set", "set", "delete", "add", "long", "type", "date"]))
        if how == "set":
            payload = _set(payload, path, draw(JSON))
        elif how == "delete":
            payload = _delete(payload, path)
        elif how == "add":
            target = payload
            for step in path:
                target = target[step]
            if isinstance(target, dict):
                target[draw(TEXT)] = draw(JSON)
            elif isinstance(target, list):
                target.append(draw(JSON))
        elif how == "long":
            size = draw(st.sampled_from([21, 51, 256, 1001, 30_000]))
            char = draw(st.sampled_from(["x", "é", "\u20ac", "\U0001f50c", "\x00", '"']))
            payload = _set(payload, path, char * size)
        elif how == "date":
            payload = _set(payload, path, draw(EDGE_DATES))
        else:
            payload = _set(payload, path, draw(HUGE_NUMBERS | st.just("1") | st.just([])))
    return payload


@st.composite
def mutated_calls(draw) -> Frame:
    """A CALL of a charger action, possibly with its payload and its frame broken."""
    action = draw(st.sampled_from(CHARGER_ACTIONS))
    payload = draw(mutated_payload(action))
    frame: list[Any] = [2, ID, action, payload]
    note = f"mutated {action}"
    if draw(st.integers(0, 3)) == 0:  # break the frame itself a quarter of the time
        part = draw(st.sampled_from(["type", "id", "action", "payload", "length"]))
        note += f", bad {part}"
        if part == "type":
            frame[0] = draw(st.sampled_from(["2", 2.0, 5, 0, True, None, -1, [2]]))
        elif part == "id":
            frame[1] = draw(
                st.sampled_from([1, None, "", "x" * 37, [], {}, True])
                | TEXT.filter(lambda t: 0 < len(t) <= 36).map(lambda t: "fz-" + t[:33])
            )
        elif part == "action":
            frame[2] = draw(
                st.sampled_from(["", 5, None, {}, action.lower()]) | st.sampled_from(OTHER_ACTIONS)
            )
        elif part == "payload":
            frame[3] = draw(JSON.filter(lambda v: not isinstance(v, dict)))
        else:
            frame = draw(st.sampled_from([frame[:3], [*frame, {}], frame[:2], frame[:1]]))
    return Frame(dumps(frame, draw(st.booleans())), note)


# -- everything else ---------------------------------------------------------------------


@st.composite
def deep_nesting(draw) -> Frame:
    """A CALL whose payload nests lists or objects deeply, the frame within 64 KiB."""
    depth = draw(st.sampled_from([64, 500, 1023, 1024, 1025, 5000, 12_000]))
    if draw(st.booleans()):
        nested = "[" * depth + "]" * depth
    else:
        nested = '{"a":' * depth + "1" + "}" * depth
    action = draw(st.sampled_from(["DataTransfer", "MeterValues", "Heartbeat"]))
    return Frame(f'[2,"{ID}","{action}",{{"vendorId":"V","data":{nested}}}]', f"depth {depth}")


@st.composite
def near_the_limit(draw) -> Frame:
    """A DataTransfer CALL of close to 64 KiB (some over it: those must close with 1009)."""
    size = draw(st.sampled_from([60_000, MAX_FRAME - 1, MAX_FRAME, MAX_FRAME + 1, 70_000]))
    char = draw(st.sampled_from(["x", "\u00e9"]))  # 1 or 2 bytes in UTF-8
    head = f'[2,"{ID}","DataTransfer",{{"vendorId":"V","data":"'
    tail = '"}]'
    room = size - len(head.encode()) - len(tail) - len(ID) + ID_LENGTH
    return Frame(head + char * (room // len(char.encode())) + tail, f"{size} bytes")


BAD_TOKENS = [
    "NaN", "Infinity", "-Infinity", "1e400", "[1,]", "[01]", "['x']", '["\\ud800"]',
    '[2,"a","Heartbeat",{}] x', "[2,\"a\",\"Heartbeat\",{}]\x00",
]  # fmt: skip


@st.composite
def broken_text(draw) -> Frame:
    """Not JSON, or truncated/garbled JSON, or JSON that is not a CALL at all."""
    kind = draw(st.sampled_from(["text", "truncated", "value", "array", "tokens"]))
    if kind == "text":
        return Frame(draw(TEXT | st.sampled_from(["", " ", "[", "]", "{}", "null", "[]"])), kind)
    if kind == "truncated":
        whole = draw(mutated_calls()).data
        cut = draw(st.integers(0, max(0, len(whole) - 1)))
        return Frame(whole[:cut], kind)
    if kind == "value":
        return Frame(dumps(draw(JSON)), kind)
    if kind == "array":
        return Frame(dumps([draw(SCALARS | JSON) for _ in range(draw(st.integers(1, 6)))]), kind)
    return Frame(draw(st.sampled_from(BAD_TOKENS)), kind)


@st.composite
def replies_and_unknown_types(draw) -> Frame:
    """CALLRESULTs and CALLERRORs nobody asked for, and unknown message types."""
    kind = draw(st.sampled_from([3, 4, 5, 0, 2.5, "3"]))
    body = [kind, ID, *draw(st.lists(JSON, max_size=4))]
    return Frame(dumps(body), f"type {kind!r}")


def _weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, drawn in proportion to its weight."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(table) - 1).flatmap(lambda index: table[index])


FRAMES = _weighted(
    (12, mutated_calls()),
    (3, broken_text()),
    (2, replies_and_unknown_types()),
    (1, deep_nesting()),
    (1, near_the_limit()),
    (1, st.binary(min_size=1, max_size=64).map(lambda b: Frame(b, "binary"))),
)


# -- the oracle --------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """The replies a frame is owed: how many (a range), the id they carry, a close code."""

    least: int
    most: int
    reply_id: str | None = None  # None: any id the frame named, or "-1"
    code: str | None = None  # the CALLERROR code when it is fixed by the rules
    close: int | None = None  # the connection must close with this code instead


def expected(data: str | bytes) -> Expected:
    """What OCPP_RULES 1-5 and 23 require for this frame (parsed like the server: orjson)."""
    if isinstance(data, bytes):
        return Expected(0, 0, close=1003)
    if len(data.encode()) > MAX_FRAME:
        return Expected(0, 0, close=1009)
    try:
        frame = orjson.loads(data)
    except orjson.JSONDecodeError:
        return Expected(1, 1, "-1", "FormationViolation")
    if not isinstance(frame, list) or not frame:
        return Expected(1, 1, "-1", "FormationViolation")
    kind = frame[0]
    if isinstance(kind, bool) or kind not in (2, 3, 4):
        return Expected(0, 0)  # unknown message type: ignored (rule 1)
    unique_id = frame[1] if len(frame) > 1 else None
    if not (isinstance(unique_id, str) and 0 < len(unique_id) <= 36):
        return Expected(1, 1, "-1", "FormationViolation")
    if kind == 2:
        return Expected(1, 1, unique_id)  # exactly one reply to every CALL
    return Expected(0, 1, unique_id, "FormationViolation")  # only a broken reply is answered


def reply_problems(reply: Any, want: Expected) -> list[str]:
    """What is wrong with one reply frame (rules 1-3)."""
    if not isinstance(reply, list) or not reply or reply[0] not in (3, 4):
        return [f"not a CALLRESULT or CALLERROR: {reply!r}"]
    found = []
    if reply[0] == 3 and (len(reply) != 3 or not isinstance(reply[2], dict)):
        found.append(f"malformed CALLRESULT {reply!r}")
    if reply[0] == 4:
        if len(reply) != 5:
            found.append(f"CALLERROR without 5 elements {reply!r}")
        elif reply[2] not in ERROR_CODES:
            found.append(f"not a 1.6 error code: {reply[2]!r}")
        elif not isinstance(reply[3], str) or not isinstance(reply[4], dict):
            found.append(f"malformed CALLERROR {reply!r}")
        elif want.code is not None and reply[2] != want.code:
            found.append(f"expected {want.code}, got {reply!r}")
    if want.reply_id is not None and len(reply) > 1 and reply[1] != want.reply_id:
        found.append(f"reply id {reply[1]!r}, expected {want.reply_id!r}")
    return found
