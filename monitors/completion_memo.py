"""One completion list per session, shared by the monitors that fire at the same point.

`deref` and `types` both read the member list at a dot; the second asks the
same text at the same offset. The session's `completion_serial` moves with
every completion request, so a kept list is handed out only while it is
still the server's latest (which jedi's resolve relies on, too).
"""

from __future__ import annotations

import threading
import weakref

_LOCK = threading.Lock()
# session -> (serial, (path, text, offset), items); weak, so a new session never meets a gone one's list under a reused id
_LAST: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def completions_at(session, path, text: str, offset: int):
    """The session's completions at `offset` of `text`, reusing the latest list when it was asked for exactly this."""
    key = (str(path), text, offset)
    try:
        weakref.ref(session)
        hash(session)
    except TypeError:  # a session object that cannot be a weak key is simply asked every time
        return session.completions(path, text, offset)
    with _LOCK:
        kept = _LAST.get(session)
    # a dead server's list is not handed out again: the request must reach it, so the death is noticed
    if kept is not None and kept[0] == getattr(session, "completion_serial", None) and kept[1] == key and getattr(session, "running", True):
        return kept[2]
    items = session.completions(path, text, offset)
    serial = getattr(session, "completion_serial", None)
    if serial is not None:
        with _LOCK:
            _LAST[session] = (serial, key, items)
    return items


def is_latest(session, items) -> bool:
    """True if `items` is the last completion list the session asked for (a resolve by label reads that list)."""
    try:
        with _LOCK:
            kept = _LAST.get(session)
    except TypeError:  # never kept (see completions_at)
        return False
    return kept is not None and kept[2] is items and kept[0] == getattr(session, "completion_serial", None)
