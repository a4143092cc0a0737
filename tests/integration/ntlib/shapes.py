"""The REST API's JSON shapes (API.md) as checkable specifications.

A shape maps field names to a kind: a Python type (str, int, bool, dict,
list), or one of the kinds below. check() returns a list of problems, so
a test can report every wrong field at once.
"""

import re

UUID_RE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# RFC 3339, UTC, "Z" suffix; a fractional part is allowed.
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")

TASKS = ("disk.wipe", "ceph.create-osd", "node.ping")
STATES = ("pending", "running", "completed", "failed", "canceled")
TERMINAL = ("completed", "failed", "canceled")
LEVELS = ("debug", "info", "warn", "error")


class Kind:
    def problem(self, value):
        raise NotImplementedError


class _Uuid(Kind):
    def problem(self, value):
        if not isinstance(value, str) or not UUID_RE.match(value):
            return "not a lowercase UUID: %r" % (value,)
        return None

    def __repr__(self):
        return "Uuid"


class _Time(Kind):
    def problem(self, value):
        if not isinstance(value, str) or not TIME_RE.match(value):
            return "not an RFC 3339 UTC time ending in Z: %r" % (value,)
        return None

    def __repr__(self):
        return "Time"


class _Number(Kind):
    def problem(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "not a number: %r" % (value,)
        return None


Uuid = _Uuid()
Time = _Time()
Number = _Number()


class Nullable(Kind):
    def __init__(self, kind):
        self.kind = kind

    def problem(self, value):
        if value is None:
            return None
        return problem(self.kind, value)


class OneOf(Kind):
    def __init__(self, *values):
        self.values = values

    def problem(self, value):
        if value not in self.values:
            return "%r is not one of %r" % (value, self.values)
        return None


class ListOf(Kind):
    def __init__(self, kind):
        self.kind = kind

    def problem(self, value):
        if not isinstance(value, list):
            return "not a list: %r" % (value,)
        for i, v in enumerate(value):
            p = problem(self.kind, v)
            if p:
                return "[%d]: %s" % (i, p)
        return None


def problem(kind, value):
    if isinstance(kind, Kind):
        return kind.problem(value)
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    return None if ok else "not %s: %r" % (kind.__name__, value)


def check(obj, required, optional=None):
    """Problems of obj against the shape: missing, unexpected, wrong."""
    optional = optional or {}
    if not isinstance(obj, dict):
        return ["not an object: %r" % (obj,)]
    out = []
    for name in required:
        if name not in obj:
            out.append("missing field %s" % name)
    for name, value in obj.items():
        kind = required.get(name, optional.get(name))
        if name not in required and name not in optional:
            out.append("unexpected field %s" % name)
            continue
        p = problem(kind, value)
        if p:
            out.append("%s: %s" % (name, p))
    return out


# ---- the API's shapes ------------------------------------------------------

ERROR = {"error": str, "message": str}

RUN = {
    "id": Uuid,
    "taskName": OneOf(*TASKS),
    "state": OneOf(*STATES),
    "nodeId": Uuid,
    "nodeHostname": str,
    "createdAt": Time,
    "startedAt": Nullable(Time),
    "completedAt": Nullable(Time),
    "error": Nullable(str),
}
# Extensions API.md allows on a run.
RUN_EXT = {
    "params": dict,
    "result": Nullable(dict),
    "pendingQuestionId": Nullable(Uuid),
    "devicePath": Nullable(str),
}

RUN_SUMMARY = {
    "id": Uuid,
    "taskName": OneOf(*TASKS),
    "state": OneOf(*STATES),
    "createdAt": Time,
}
RUN_SUMMARY_EXT = dict(
    {k: v for k, v in RUN.items() if k not in RUN_SUMMARY}, **RUN_EXT)

LOG = {
    "timestamp": Time,
    "level": OneOf(*LEVELS),
    "message": str,
    "seq": int,
}

QUESTION = {
    "id": Uuid,
    "runId": Uuid,
    "taskName": OneOf(*TASKS),
    "prompt": str,
    "options": ListOf(str),
    "createdAt": Time,
}
QUESTION_EXT = {
    "nodeId": Uuid,
    "nodeHostname": str,
    "expiresAt": Nullable(Time),
}

NODE = {
    "id": Uuid,
    "hostname": str,
    "state": OneOf("online", "offline"),
    "lastSeenAt": Nullable(Time),
    # Unknown (empty) strings are null.
    "agentVersion": Nullable(str),
    "address": Nullable(str),
}
NODE_EXT = {"createdAt": Time}

DISK = {
    "id": Uuid,
    "nodeId": Uuid,
    "nodeHostname": str,
    "devicePath": str,
    "capacity": Number,
    "interface": Nullable(str),
    "model": Nullable(str),
    "vendor": Nullable(str),
    "serial": Nullable(str),
    "isOsd": bool,
    "isMon": bool,
    "hasFilesystem": bool,
    "available": bool,
    "rejectReasons": ListOf(str),
}
DISK_EXT = {"capacityBytes": int}
