"""One completion list per session, shared by the monitors that fire at the same point.

`deref` and `types` both read the member list at a dot; the second asks the
same text at the same offset. The session's `completion_serial` moves with
every completion request, so a kept list is handed out only while it is
still the server's latest (which jedi's resolve relies on, too).
"""

from __future__ import annotations

import threading

_LOCK = threading.Lock()
_LAST: dict[int, tuple] = {}  # id(session) -> (serial, (path, text, offset), items)


def completions_at(session, path, text: str, offset: int):
    """The session's completions at `offset` of `text`, reusing the latest list when it was asked for exactly this."""
    key = (str(path), text, offset)
    with _LOCK:
        kept = _LAST.get(id(session))
    # a dead server's list is not handed out again: the request must reach it, so the death is noticed
    if kept is not None and kept[0] == getattr(session, "completion_serial", None) and kept[1] == key and getattr(session, "running", True):
        return kept[2]
    items = session.completions(path, text, offset)
    serial = getattr(session, "completion_serial", None)
    if serial is not None:
        with _LOCK:
            _LAST[id(session)] = (serial, key, items)
    return items


def is_latest(session, items) -> bool:
    """True if `items` is the last completion list the session asked for (a resolve by label reads that list)."""
    with _LOCK:
        kept = _LAST.get(id(session))
    return kept is not None and kept[2] is items and kept[0] == getattr(session, "completion_serial", None)
