"""Monitors: decide when the text just written calls for a language-server fact."""

from __future__ import annotations

from .arguments import ArgumentMonitor
from .base import Document, Monitor, Trigger
from .dereference import DereferenceMonitor
from .classes import ClassMonitor
from .imports import ImportMonitor

MONITORS: dict[str, type] = {
    "deref": DereferenceMonitor,
    "imports": ImportMonitor,
    "classes": ClassMonitor,
    "args": ArgumentMonitor,
}
DEFAULT_MONITORS = "deref,imports,classes,args"


def monitors_by_name(spec: str) -> list[Monitor]:
    """Monitors from a comma-separated list of names; ValueError naming any unknown one."""
    names = [part.strip() for part in spec.split(",") if part.strip()]
    unknown = [n for n in names if n not in MONITORS]
    if unknown or not names:
        raise ValueError(
            f"unknown monitor {', '.join(unknown) or '(none given)'}; choose from {', '.join(MONITORS)}"
        )
    return [MONITORS[n]() for n in dict.fromkeys(names)]


__all__ = ["DEFAULT_MONITORS", "MONITORS", "ArgumentMonitor", "ClassMonitor", "DereferenceMonitor", "Document", "ImportMonitor", "Monitor", "Trigger", "monitors_by_name"]
