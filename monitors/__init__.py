"""Monitors: decide when the text just written calls for a language-server fact.

Shared at this level: the monitor abstraction and the scanner contract
(`base`), the dereference monitor every language uses (`dereference`), call
tracking (`calls`), how monitors that fire together are combined (`compose`)
and the registry of languages (`languages`). Each language's scanner and own
monitors live in its sub-package (`python/`, `java/`).
"""

from mgd.monitors.base import Document, Monitor, Trigger
from mgd.monitors.calls import CallMonitor
from mgd.monitors.dereference import DereferenceMonitor
from mgd.monitors.java.monitors import EnumCaseMonitor, JavaArgumentMonitor, NewMonitor
from mgd.monitors.languages import (
    DEFAULT_MONITORS,
    LANGUAGES,
    MONITORS,
    Language,
    default_monitors,
    language,
    language_of,
    monitors_by_name,
)
from mgd.monitors.python.arguments import ArgumentMonitor
from mgd.monitors.python.classes import ClassMonitor
from mgd.monitors.python.imports import ImportMonitor

__all__ = [
    "DEFAULT_MONITORS", "LANGUAGES", "MONITORS", "ArgumentMonitor", "CallMonitor", "ClassMonitor", "DereferenceMonitor",
    "Document", "EnumCaseMonitor", "ImportMonitor", "JavaArgumentMonitor", "Language", "Monitor", "NewMonitor", "Trigger",
    "default_monitors", "language", "language_of", "monitors_by_name",
]  # fmt: skip
