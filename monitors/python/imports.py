"""The import monitor: `from pkg import ` may only name what `pkg` has.

Trigger: in code, a line that reads `from MODULE import` so far, or the same
followed by `(` and/or earlier names and a comma (`from m import a,`). Right
after `import` or a comma the name comes after a space, and tokenizers spell
the two together (` Book`): the query then looks one space ahead and tokens
are matched past their leading space.
Query: `textDocument/completion` there; jedi lists the module's names.
Allowed: those names; the code may also go on without a name (`(`, `*`).
`import pkg.` and `from pkg.` are member accesses: the dereference monitor
offers the submodules there. Gives up (no constraint) when the server fails
or lists nothing, as for a module it cannot find.
"""

from __future__ import annotations

import re

from mgd.monitors.base import Document, Monitor, Trigger
from mgd.monitors.dereference import member_names
from mgd.monitors.python.lexer import LexState

_FROM_IMPORT = re.compile(r"^\s*from\s+(?:\.+[\w.]*|[A-Za-z_][\w.]*)\s+import(?P<rest>.*)$")
_IMPORT_LIST = re.compile(r"^(?:\s+|\s*\(\s*)(?:[A-Za-z_]\w*(?:\s+as\s+[A-Za-z_]\w*)?\s*,\s*)*$")
_AFTER_SPACE = Trigger()
_BEFORE_SPACE = Trigger(at=" ", lead_space=True, word_may_go_on=False)  # `from x importBook` is no Python
_AFTER_COMMA = Trigger(at=" ", lead_space=True)  # `from x import a,b` is: a name without the space goes free


class ImportMonitor(Monitor):
    """Constrains the names imported from a module to the names it defines."""

    name = "imports"
    open_start = True

    def trigger(self, state: LexState, line: str) -> Trigger | None:
        """Fires after `from MODULE import`, and after `(` or a comma in its list."""
        if not state.in_code or not line.endswith(("t", " ", "(", ",")):
            return None
        match = _FROM_IMPORT.match(line)
        if match is None:
            return None
        rest = match.group("rest")
        if rest == "":
            return _BEFORE_SPACE
        if rest.endswith(",") and _IMPORT_LIST.match(rest + " "):
            return _AFTER_COMMA
        if _IMPORT_LIST.match(rest):
            return _AFTER_SPACE
        return None

    def allowed_names(self, session, document: Document, generated: str) -> frozenset[str] | None:
        """Names the server lists for the module, or None when it has none to offer."""
        text = document.prefix + generated
        items = session.completions(document.path, text + document.suffix, len(text))
        names = member_names(items or [])
        return names or None
