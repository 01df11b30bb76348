"""The monitor abstraction: when to ask the server, and what it allows then.

A monitor is stateless about any one sequence: the decoder keeps, per
sequence, the scanner state of the text written so far and hands it to the
monitor. The monitor says whether the text just written is a trigger and, if
so, asks the language server for the names that may follow. The answer None
means "no opinion": decoding goes on unconstrained, never with nothing allowed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from .python_lexer import LexState


@dataclass(frozen=True)
class Document:
    """The file being written: its path, and the text around the insertion point.

    The generated text is inserted between `prefix` and `suffix`; the server
    sees `prefix + generated + suffix`, only in memory.
    """

    path: str
    prefix: str
    suffix: str = ""


class Monitor(ABC):
    """Watches the text being written and names what may legally come next."""

    name: str = "monitor"

    @abstractmethod
    def triggered(self, state: LexState) -> bool:
        """True if the text whose scan ended in `state` opens a constrained name."""

    @abstractmethod
    def allowed_names(self, session, document: Document, generated: str) -> frozenset[str] | None:
        """Names that may follow `prefix + generated`, or None for no constraint."""
