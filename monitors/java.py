"""The paper's Java monitors, on JDT.LS answers.

- `deref` is the language-neutral `DereferenceMonitor` with the Java scanner.
- `JavaArgumentMonitor` (`args`): at `method(` the call may end only with a
  number of arguments that one of the method's overloads takes.
- `EnumCaseMonitor` (`enums`): after `case ` in a switch over an enum, only
  that enum's constants.
- `NewMonitor` (`new`): after `new `, only classes that can be instantiated:
  no interfaces, enums or abstract classes (JDT.LS marks a class abstract in
  its completion item's `detail`... see `_instantiable`). Packages stay
  allowed, so a qualified name (`new java.util.ArrayList`) can be written.

Each gives up (no constraint) when the server fails or offers nothing of the
kind it needs, as in a switch over an `int`.
"""

from __future__ import annotations

import re

from .arguments import ArgumentMonitor, Signature
from .base import Document, Monitor, Trigger
from .dereference import item_name

# LSP CompletionItemKind values.
_CLASS, _INTERFACE, _MODULE, _ENUM, _ENUM_MEMBER = 7, 8, 9, 13, 20
_IDENTIFIER = re.compile(r"^[^\W\d][\w$]*$")
_SPACE_AHEAD = Trigger(at=" ", lead_space=True)
_HERE = Trigger()

_CASE = re.compile(r"^\s*case(?P<rest>\s*(?:[A-Za-z_$][\w$]*\s*,\s*)*)$")
_NEW = re.compile(r"(?:^|[^\w$.])new(?P<space>\s*)$")


def _after_keyword(match: re.Match | None, rest: str) -> Trigger | None:
    """The query point after a keyword (or list comma): one space ahead unless the line already has it."""
    if match is None:
        return None
    return _HERE if rest[-1:].isspace() else _SPACE_AHEAD


class EnumCaseMonitor(Monitor):
    """After `case ` in a switch over an enum, only the enum's constants may follow."""

    name = "enums"

    def trigger(self, state, line: str) -> Trigger | None:
        """Fires after `case` (and after a comma in `case A, `) at the start of a line in code."""
        if not state.in_code or not line.endswith(("e", " ", "\t", ",")):
            return None
        match = _CASE.match(line)
        if match is None or (match.group("rest").strip() and not match.group("rest").rstrip().endswith(",")):
            return None
        return _after_keyword(match, match.group("rest"))

    def allowed_names(self, session, document: Document, generated: str) -> frozenset[str] | None:
        """The enum constants the server offers here, or None when it offers none."""
        text = document.prefix + generated
        items = session.completions(document.path, text + document.suffix, len(text)) or []
        names = {item_name(item) for item in items if item.kind == _ENUM_MEMBER}
        names.discard("")
        return frozenset(names) or None


class NewMonitor(Monitor):
    """After `new `, only classes that can be instantiated (and packages leading to them)."""

    name = "new"

    def trigger(self, state, line: str) -> Trigger | None:
        """Fires right after the keyword `new` in code."""
        if not state.in_code or not line.endswith(("w", " ", "\t")):
            return None
        match = _NEW.search(line)
        return _after_keyword(match, match.group("space")) if match else None

    def allowed_names(self, session, document: Document, generated: str) -> frozenset[str] | None:
        """Instantiable classes and packages the server offers, or None when it offers no class."""
        text = document.prefix + generated
        items = session.completions(document.path, text + document.suffix, len(text)) or []
        classes = {item_name(item) for item in items if item.kind == _CLASS and _instantiable(item)}
        classes.discard("")
        if not classes:
            return None
        packages = {item_name(item) for item in items if item.kind == _MODULE}
        return frozenset(classes | {p for p in packages if _IDENTIFIER.match(p)})


def _instantiable(item) -> bool:
    """False for a class the server describes as abstract."""
    return "abstract" not in (getattr(item, "detail", "") or "").split()


class JavaArgumentMonitor(ArgumentMonitor):
    """At `method(`: the call may close only with as many arguments as some overload takes."""

    def signature(self, session, document: Document, generated: str) -> Signature | None:
        """All overloads the server lists at the `(`, merged into one Signature (None if none)."""
        text = document.prefix + generated
        answer = session.signature_help(document.path, text + document.suffix, len(text))
        return java_signature((answer or {}).get("signatures") or [])


def java_signature(signatures: list[dict]) -> Signature | None:
    """One Signature accepting the argument counts of all `signatures` (JDT.LS SignatureInformation)."""
    counts, varargs_from = set(), None
    for sig in signatures:
        params = [p.get("label", "") if isinstance(p, dict) else "" for p in sig.get("parameters") or []]
        if isinstance(sig.get("parameters"), list) and not params and "()" not in sig.get("label", "()"):
            return None  # parameters not described: do not guess
        if params and "..." in str(params[-1]):
            low = len(params) - 1
            varargs_from = low if varargs_from is None else min(varargs_from, low)
        else:
            counts.add(len(params))
    if not counts and varargs_from is None:
        return None
    longest = max(counts | ({varargs_from} if varargs_from is not None else set()))
    return Signature(
        positional=tuple(f"arg{i}" for i in range(longest)),
        keyword=frozenset(),
        required=frozenset(),
        var_positional=varargs_from is not None,
        var_keyword=True,  # `name = value` in Java is an assignment expression, not a keyword argument
        arities=frozenset(counts),
        varargs_from=varargs_from,
    )
