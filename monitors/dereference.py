"""The dereference monitor: after `expr.` only members of `expr` may follow.

Trigger: the text ends with a `.` in code that follows a name, a closing
bracket or a string literal (not inside strings or comments, not in a number
such as `1.5`). Query: `textDocument/completion` at that point, with nothing
typed after the dot, so the server lists every member. Allowed: the member
names, without keywords, snippets and anything that is not an identifier. It
gives up (no constraint) when the server fails, times out or knows nothing,
when its list is incomplete, and when it could not resolve the receiver and
listed members of types it guessed by name.
"""

from __future__ import annotations

import re

from mgd.monitors.base import Document, Monitor, Trigger

# LSP CompletionItemKind values that never name a member.
_KEYWORD, _SNIPPET = 14, 15
_IDENTIFIER = re.compile(r"^[^\W\d][\w$]*$")
_NAME_END = re.compile(r"[<(\s]")


def item_name(item) -> str:
    """The name a completion item stands for: its filter text (JDT.LS labels read `length() : int`), else its label.

    JDT.LS filter texts of generic types carry their parameters (`List<E>`): only the name counts.
    """
    text = (getattr(item, "filter_text", "") or item.label).strip()
    return _NAME_END.split(text, 1)[0]


def member_names(items) -> frozenset[str]:
    """Member names from completion items: identifiers only, no keywords or snippets."""
    names = set()
    for item in items:
        if item.kind in (_KEYWORD, _SNIPPET):
            continue
        label = item_name(item)
        if _IDENTIFIER.match(label):
            names.add(label)
    return frozenset(names)


_AT_DOT = Trigger()


class DereferenceMonitor(Monitor):
    """Constrains the identifier after a member-access dot to real members."""

    name = "deref"

    def trigger(self, state, line: str) -> Trigger | None:
        """Fires when the text ends with a member-access dot in code."""
        return _AT_DOT if state.at_dereference else None

    def allowed_names(self, session, document: Document, generated: str) -> frozenset[str] | None:
        """Members the server lists at the dot, or None when it has none to offer."""
        text = document.prefix + generated
        items = session.completions(document.path, text + document.suffix, len(text))
        if not items or getattr(items, "is_incomplete", False):  # a partial list would forbid real members
            return None
        if getattr(items, "receiver_guessed", False):  # members of same-named types, not of the receiver's
            return None
        names = member_names(items)
        return names or None
