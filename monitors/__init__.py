"""Monitors: decide when the text just written calls for a language-server fact.

Shared at this level: the monitor abstraction and the scanner contract
(`base`), the dereference monitor every language uses (`dereference`) and
the types monitor beside it (`types`; one completion list serves both:
`completion_memo`), call tracking (`calls`), how monitors that fire
together are combined (`compose`) and the registry of languages
(`languages`). Each language's scanner and own monitors live in its
sub-package (`python/`, `java/`), with its type rules (`types`).
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
from mgd.monitors.types import TypesMonitor

__all__ = [
    "DEFAULT_MONITORS", "LANGUAGES", "MONITORS", "ArgumentMonitor", "CallMonitor", "ClassMonitor", "DereferenceMonitor",
    "Document", "EnumCaseMonitor", "ImportMonitor", "JavaArgumentMonitor", "Language", "Monitor", "NewMonitor", "Trigger",
    "TypesMonitor",
    "default_monitors", "language", "language_of", "monitors_by_name",
]  # fmt: skip
