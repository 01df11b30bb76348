"""Several monitors on one server: which of them fire at a point, and what they allow together.

Monitors that fire at the same point query the same text (the server gets one
edit) and their answers are intersected; a monitor that answers None has no
opinion and restricts nothing. Monitors that fire at different points cannot
be intersected: the ones that agree with the first by name win, so the order
in which monitors are given does not matter.
"""

from __future__ import annotations

from typing import Sequence

from mgd.monitors.base import Document, Monitor, ScanState, Trigger


def fired_together(monitors: Sequence[Monitor], state: ScanState, line: str) -> tuple[Trigger, tuple[Monitor, ...]] | None:
    """The monitors that fire after text scanned into `state` (current line `line`), with their common trigger; None if none fires."""
    fired = [(m, t) for m in monitors if (t := m.trigger(state, line)) is not None]
    if not fired:
        return None
    fired.sort(key=lambda pair: pair[0].name)
    trigger = fired[0][1]
    return trigger, tuple(m for m, t in fired if t == trigger)


def allowed_together(
    monitors: Sequence[Monitor], session, document: Document, generated: str
) -> tuple[frozenset[str] | None, bool]:
    """The names every monitor with an opinion allows after `prefix + generated`, and whether the point is open.

    Returns (None, ...) when no monitor restricts anything. The point is open
    (code that names nothing may follow) only if every monitor that answered says so.
    """
    answer: frozenset[str] | None = None
    open_start = True
    for monitor in monitors:
        names = monitor.allowed_names(session, document, generated)
        if names is not None:
            answer = names if answer is None else answer & names
            open_start = open_start and monitor.open_start
    return answer, open_start
