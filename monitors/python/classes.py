"""The class monitor: where a class is expected, only a class may be named.

Triggers (in code, on the current line): after `raise` and `except` (also
inside `except (A, `), after the comma in `isinstance(x, ` / `issubclass(x, `
(also inside a tuple there), and in annotations: after the `:` of a function
parameter, and after `->`. Right after the
keyword or punctuation the name comes after a space, which tokenizers write
together with it (` ValueError`), so the query looks one space ahead.
Query: `textDocument/completion` there; jedi lists every name in scope.
Allowed in annotations: names jedi reports as classes (and interfaces,
enums, structs, type parameters) and modules (`errors.MyError` reaches a
class through them), `None`, and variables whose name starts with a capital
letter, as type aliases do (`Vector = list[float]`); jedi reports aliases as
variables and telling them from instances would cost a query per name, so
this is a convention, minus the builtin singletons `NotImplemented` and
`Ellipsis`. After `raise`, `except` and in `isinstance(x, ` any name in
scope may start the expression: `raise error` raises an instance held in a
variable, `raise make_error()` one a function builds, `except ERRORS:`
takes a tuple (all three were banned before `mgd pragmaticcode truth`
found `raise remount_error` banned in openai-agents); only names in no
scope are masked there. The position is open: code that names nothing
here (`(`, a string, a line break) is free.
Gives up (no constraint) when the server fails or lists no class.
"""

from __future__ import annotations

import re

from mgd.monitors.base import Document, Monitor, Trigger
from mgd.monitors.dereference import member_names
from mgd.monitors.python.lexer import LexState

# LSP CompletionItemKind values of things that are, or lead to, classes.
_CLASS_KINDS = frozenset({7, 8, 9, 13, 22, 25})  # class, interface, module, enum, struct, type parameter
_VARIABLE = 6
_SINGLETONS = frozenset({"NotImplemented", "Ellipsis"})
_SPACE_AHEAD = Trigger(at=" ", lead_space=True)
_HERE = Trigger()
_NAME_LIST = r"(?:[\w.]+\s*,\s*)*"

# Each pattern ends where a class may start.
_EXPECTS_CLASS = [
    re.compile(r"^\s*raise\s*$"),
    re.compile(r"^\s*except\s*$"),
    re.compile(r"^\s*except\s*\(\s*" + _NAME_LIST + r"$"),
    re.compile(r"\b(?:isinstance|issubclass)\(\s*[^,()]+,\s*$"),
    re.compile(r"\b(?:isinstance|issubclass)\(\s*[^,()]+,\s*\(\s*" + _NAME_LIST + r"$"),
]
_ANNOTATIONS = [
    re.compile(r"^\s*(?:async\s+)?def\s+\w+\s*\((?:[^()]|\([^()]*\))*\b\w+\s*:\s*$"),
    re.compile(r"\)\s*->\s*$"),
]


class ClassMonitor(Monitor):
    """Constrains names in raise, except, isinstance and annotation positions to classes."""

    name = "classes"
    open_start = True

    def trigger(self, state: LexState, line: str) -> Trigger | None:
        """Fires where a class is expected (see the module docstring)."""
        if not state.in_code or not line or line[-1] not in " ,(:>etsp":
            return None
        if not any(pattern.search(line) for pattern in _EXPECTS_CLASS + _ANNOTATIONS):
            return None
        # after a space or `(` the name comes next; after a keyword, `,`, `:`
        # or `->` the tokenizer usually writes a space and the name together
        return _HERE if line[-1].isspace() or line[-1] == "(" else _SPACE_AHEAD

    def allowed_names(self, session, document: Document, generated: str) -> frozenset[str] | None:
        """Class-like names in scope, or None when the server names no class."""
        text = document.prefix + generated
        items = session.completions(document.path, text + document.suffix, len(text)) or []
        annotation = any(p.search(text.rsplit("\n", 1)[-1].rstrip()) for p in _ANNOTATIONS)
        if not annotation:
            # an instance, a call or a tuple may follow `raise` / `except` / `isinstance(x, `: any name in scope
            return member_names(items) or None
        names = {item.label for item in items if item.label.isidentifier() and item.kind in _CLASS_KINDS}
        if not names:
            return None
        if annotation:
            names.add("None")
            names.update(
                item.label
                for item in items
                if item.kind == _VARIABLE and item.label[:1].isupper() and item.label not in _SINGLETONS
            )
        return frozenset(names)
