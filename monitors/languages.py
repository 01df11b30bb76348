"""The registry of languages: each one's scanner, file suffixes and monitors.

A language is a sub-package of `mgd.monitors` (its scanner and its own
monitors) plus one entry here. `deref` (`mgd.monitors.dereference`) works for
every language, and so does `types` (`mgd.monitors.types`, in both default
sets); the rest are language-specific.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from mgd.monitors.base import Monitor
from mgd.monitors.dereference import DereferenceMonitor
from mgd.monitors.java import lexer as java_lexer
from mgd.monitors.java.monitors import EnumCaseMonitor, JavaArgumentMonitor, NewMonitor
from mgd.monitors.python import lexer as python_lexer
from mgd.monitors.python.arguments import ArgumentMonitor
from mgd.monitors.python.classes import ClassMonitor
from mgd.monitors.python.imports import ImportMonitor
from mgd.monitors.types import TypesMonitor


@dataclass(frozen=True)
class Language:
    """What guidance needs to know about a programming language."""

    name: str
    scan: Callable[[str], tuple]  # text from the start of a file -> scanner state
    suffixes: tuple[str, ...]
    monitors: dict[str, type]
    default_monitors: str


LANGUAGES: dict[str, Language] = {
    "python": Language(
        "python", python_lexer.scan, (".py", ".pyi"),
        {"deref": DereferenceMonitor, "imports": ImportMonitor, "classes": ClassMonitor, "args": ArgumentMonitor,
         "types": TypesMonitor},
        "deref,imports,classes,args,types",
    ),
    "java": Language(
        "java", java_lexer.scan, (".java",),
        {"deref": DereferenceMonitor, "args": JavaArgumentMonitor, "enums": EnumCaseMonitor, "new": NewMonitor,
         "types": TypesMonitor},
        "deref,args,enums,new,types",
    ),
}  # fmt: skip
MONITORS: dict[str, type] = LANGUAGES["python"].monitors
DEFAULT_MONITORS = LANGUAGES["python"].default_monitors


def language(name: str) -> Language:
    """The Language called `name`; ValueError naming the supported ones."""
    try:
        return LANGUAGES[name]
    except KeyError:
        raise ValueError(f"unsupported language {name!r}; choose from {', '.join(LANGUAGES)}") from None


def language_of(path: str) -> str | None:
    """The language of a file, from its suffix (None if no language claims it)."""
    for lang in LANGUAGES.values():
        if path.endswith(lang.suffixes):
            return lang.name
    return None


def monitors_by_name(spec: str, language_name: str = "python") -> list[Monitor]:
    """Monitors of a language from a comma-separated list of names; ValueError naming any unknown one."""
    available = language(language_name).monitors
    names = [part.strip() for part in spec.split(",") if part.strip()]
    unknown = [n for n in names if n not in available]
    if unknown or not names:
        raise ValueError(
            f"unknown monitor {', '.join(unknown) or '(none given)'}; choose from {', '.join(available)}"
            + ("" if language_name == "python" else f" ({language_name})")
        )
    monitors = [available[n]() for n in dict.fromkeys(names)]
    if "types" in names:  # the type checker beside the server also reads the calls `args` cannot trust jedi for
        for monitor in monitors:
            if hasattr(monitor, "checked_signatures"):
                monitor.checked_signatures = True
    return monitors


def default_monitors(language_name: str = "python") -> list[Monitor]:
    """The default monitors of a language."""
    return monitors_by_name(language(language_name).default_monitors, language_name)

