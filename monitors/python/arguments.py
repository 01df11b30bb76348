"""The call-arguments monitor: keep a call to a known function well-formed.

Trigger: `(` right after a name in code (a call; not `def f(`, `class C(`,
nor a keyword such as `if (`). Query: `textDocument/signatureHelp` just
after the `(`. It gives up (no constraint) unless the server returns exactly
one signature: overloads and unknown callees are left free, and so is a call
once it unpacks `*args` or `**kwargs` into its arguments, and a class whose
definition is not in the project's sources (one definition request: jedi
reads other classes' constructors wrongly, `class float()`), and a callee
whose own header names other parameters than jedi's label. A callee
outside the project's sources gets, with `types`, the signature the type
checker gives (`checked_signatures`: basedpyright knows a pydantic model's
`__init__`, a dataclass's own, and the standard library of the Python the
project runs on); without it, jedi's only where jedi read the callee's own
source, not the stubs of 2021 it bundles (`_read_from_jedis_stubs`).
Allowed, while the call is open: everything except text that
- closes the call before every required parameter has a value,
- ends a positional argument past the last positional parameter (unless the
  callee takes `*args`),
- writes `name=` for a name the callee does not accept by keyword (unless it
  takes `**kwargs`), or for a parameter that already has a value,
- starts an argument where none could still fit: every positional parameter
  has a value and no parameter is left to name by keyword (`f()` with no
  parameters, `f(7, ` for `f(x)`); only `)` (and space) may come there.
- starts an argument other than `name=` (or an unpacked `*`/`**`) where
  only a keyword argument fits: every positional parameter has a value and
  the callee takes no `*args` nor `**kwargs` (`make(*, title, colour)`);
  there the name being written must start a keyword not given yet, so the
  model cannot run a made-up name (or a positional string) on to the cap.
The call is followed character by character (nested brackets, strings and
comments included), so a token that merges several of these (`()`, `'),`)
is judged as a whole.
"""

from __future__ import annotations

import functools
import os
import re

from mgd.monitors.base import Document
from mgd.monitors.calls import CallMonitor, Signature
from mgd.monitors.dereference import closing_bracket


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """`text`'s non-empty parts between `separator`s outside brackets and strings, each stripped."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_signature(label: str) -> Signature | None:
    """A Signature from a signature label such as `def f(a, /, b=1, *c, d, **e) -> None`."""
    open_at = label.find("(")
    if open_at < 0:
        return None
    close_at = closing_bracket(label, open_at)
    if close_at is None:
        return None
    positional: list[str] = []
    types: list[str | None] = []
    keyword: set[str] = set()
    required: set[str] = set()
    var_positional = var_keyword = keyword_only = False
    declared: dict[str, str | None] = {}
    for part in split_top_level(label[open_at + 1 : close_at]):
        if part == "/":
            keyword.difference_update(positional)
            continue
        if part == "*":
            keyword_only = True
            continue
        if part.startswith("**"):
            var_keyword = True
            continue
        if part.startswith("*"):
            var_positional = keyword_only = True
            continue
        match = re.match(r"[A-Za-z_]\w*", part)
        if match is None:
            return None
        name = match.group(0)
        keyword.add(name)
        declared[name] = parameter_type(part)
        if not keyword_only:
            positional.append(name)
            types.append(declared[name])
        if re.search(r"(?<![=!<>])=(?!=)", part) is None:
            required.add(name)
    keyword_types = tuple((name, known) for name, known in declared.items() if name in keyword and known is not None)
    return Signature(
        tuple(positional), frozenset(keyword), frozenset(required), var_positional, var_keyword,
        types=tuple(types), keyword_types=keyword_types,
    )


def parameter_type(part: str) -> str | None:
    """A parameter's annotation (`size: tuple[int, int]=(1, 1)`) as the `types` rules compare it; None if absent or open."""
    from mgd.monitors.python.types import argument_type

    annotation = re.match(r"[A-Za-z_]\w*\s*:\s*(?P<type>.+?)\s*(?:(?<![=!<>])=(?!=).*)?$", part, re.S)
    return argument_type(annotation.group("type")) if annotation else None


class ArgumentMonitor(CallMonitor):
    """Asks for the callee's signature when a call opens (see the module docstring)."""

    name = "args"

    def __init__(self, checked_signatures: bool = False) -> None:
        # a callee outside the project gets the type checker's signature (`mgd.lsp.checker`); `types` turns it on
        self.checked_signatures = checked_signatures

    def signature(self, session, document: Document, generated: str) -> Signature | None:
        """The one signature the server gives right after `prefix + generated` (ending with `(`), else None."""
        text = document.prefix + generated
        answer = session.signature_help(document.path, text + document.suffix, len(text))
        signatures = (answer or {}).get("signatures") or []
        if len(signatures) != 1:
            return None
        label = signatures[0].get("label", "")
        name_end = len(text.rstrip()[:-1].rstrip())
        if name_end < 1:
            return None
        locations = session.definition(document.path, text + document.suffix, name_end - 1)
        if locations is None:
            return None  # no answer in time: whether jedi's label is the callee's own cannot be checked
        if not _defined_in_project(session, locations):
            # the checker reads the library the project runs on; jedi may read its own stubs of years ago
            if self.checked_signatures:
                return _checked_signature(session, document, text)
            if label.startswith("class ") or any(_read_from_jedis_stubs(str(loc.path)) for loc in locations):
                return None
        if _label_disagrees(label, locations, document, text):
            # jedi's signature is not trusted here: the type checker's is asked instead (with `types`)
            return _checked_signature(session, document, text) if self.checked_signatures else None
        return parse_signature(label)


_STDLIB = re.compile(r"/lib/python3\.\d+/(?!(?:site|dist)-packages/)")
_JEDI_STUBS = "/jedi/third_party/typeshed/"


def _read_from_jedis_stubs(path: str) -> bool:
    """True if jedi reads the signatures of what is defined at `path` from the typeshed stubs it bundles.

    jedi 0.19 bundles typeshed as of 2021 and prefers a stub to the source:
    the standard library (`int.to_bytes(length, byteorder)`, both optional
    since 3.11; `exec` without 3.11's `closure=`) and packages it has stubs
    for (`requests`, `click`, `yaml`, ...) get signatures of then.
    """
    if _JEDI_STUBS in path or _STDLIB.search(path):
        return True
    installed = re.search(r"/(?:site|dist)-packages/([A-Za-z_]\w*)", path)
    return installed is not None and installed.group(1) in _jedi_stub_packages()


@functools.lru_cache(maxsize=1)
def _jedi_stub_packages() -> frozenset[str]:
    """The top-level packages jedi's bundled typeshed has third-party stubs for (read once)."""
    names: set[str] = set()
    try:
        import jedi

        root = os.path.join(os.path.dirname(jedi.__file__), "third_party", "typeshed", "third_party")
        for folder in os.listdir(root):
            names.update(name.removesuffix(".pyi") for name in os.listdir(os.path.join(root, folder)))
    except (ImportError, OSError):
        pass  # no bundled stubs found: only the standard library counts
    return frozenset(names)


def _checked_signature(session, document: Document, text: str) -> Signature | None:
    """The one signature the type checker gives for the call `text` opens, asked with the call closed; None for none, or several.

    jedi reads a class outside the project from its source's `__init__`,
    which a pydantic model or a dataclass does not write; the checker gives
    the one it synthesises (`StructuredTool(*, name: str = None, ...)`).
    """
    from mgd.lsp.checker import checker_for

    checker = checker_for(session)
    labels = checker.signatures_at(document.path, text + ")\n" + document.suffix, len(text)) if checker else None
    if not labels or len(labels) != 1 or not labels[0].startswith("("):
        return None
    return parse_signature(labels[0])


def _defined_in_project(session, locations) -> bool:
    """True if one of the callee's definitions `locations` is in the project's own sources.

    jedi's signatures of classes from the standard library, compiled modules
    and installed packages are often not the constructor's: `class float()`
    for `float(x)`, a `tuple` subclass's `iterable` for its own `__new__`
    parameters. A project's classes it reads from their source.
    """
    root = str(getattr(session, "root", "") or "")
    if not root:
        return False
    inside = (str(loc.path) for loc in locations)
    return any(p.startswith(root.rstrip("/") + "/") and p.endswith(".py") and "site-packages" not in p for p in inside)


def _label_disagrees(label: str, locations, document: Document, text: str) -> bool:
    """True if jedi's `label` is not what a definition's own header (a class's own `__init__`/`__new__`) says.

    jedi replaces star parameters passed on to another call with that
    callee's parameters, and gets it wrong: `def __init__(self, *args:
    object)` calling `super().__init__(*args)` gives `class
    AgentsException()`, `def exec(self, *command: str | Path, timeout=...)`
    gives `exec(self, *, timeout=...)`, `**kwargs` passed to `dict` gives
    keyword-only `map` and `iterable`. And for a `@dataclass` with its own
    `__init__` it gives the fields (google-genai's `GenAiDefaultError`).
    Such a signature is no constraint: the header's parameters, by name and
    kind, must be the label's.
    """
    written = _parameters(label[label.find("(") + 1 :])
    for loc in locations:
        own = _own_header(loc, document, text)
        if own is None:
            continue
        names = _parameters(own)
        if names[:1] in (["self"], ["cls"]):
            names = names[1:]
        if names != written:
            return True
    return False


def _parameters(params: str) -> list[str]:
    """The parameter names of a parameter list that starts `params`, star parameters with their stars (`*args`), markers left out."""
    close = closing_bracket("(" + params, 0)
    inner = params[: close - 1] if close is not None else params
    found = (re.match(r"\*\*?\s*[A-Za-z_]\w*|[A-Za-z_]\w*", part) for part in split_top_level(inner))
    return [m.group(0).replace(" ", "") for m in found if m]


_SOURCES: dict[str, tuple[float, str]] = {}
_MAX_SOURCES = 256  # files whose text is kept (a long evaluation visits many projects)


def _own_header(loc, document: Document, text: str) -> str | None:
    """The parameter list after `(` of the `def` at `loc`, or of the own `__init__`/`__new__` of the class at `loc`; None if neither is found."""
    if str(loc.path) == str(document.path):
        source = text + document.suffix  # the document as written so far, not as saved
    else:
        source = _read(str(loc.path))
        if source is None:
            return None
    lines = source.split("\n")
    if not 0 <= loc.line < len(lines):
        return None
    line = lines[loc.line]
    if re.match(r"\s*(?:async\s+)?def\b", line):
        return _params_at(source, sum(len(x) + 1 for x in lines[: loc.line]), line)
    if not re.match(r"\s*class\b", line):
        return None
    indent = len(line) - len(line.lstrip())
    body: int | None = None
    first = loc.line + 1
    bases = line.find("(")
    if bases >= 0:  # bases over lines (`class A(\n    Base,\n):`): the body starts after the header's `)`
        close = closing_bracket(source, sum(len(x) + 1 for x in lines[: loc.line]) + bases)
        if close is None:
            return None
        first = source.count("\n", 0, close) + 1
    offset = sum(len(x) + 1 for x in lines[:first])
    for later in lines[first:]:
        stripped = later.lstrip()
        own = len(later) - len(stripped)
        if stripped and not stripped.startswith("#"):
            if own <= indent:
                break
            body = own if body is None else body
            if own == body and re.match(r"(?:async\s+)?def\s+__(?:init|new)__\s*\(", stripped):
                return _params_at(source, offset, later)
        offset += len(later) + 1
    return None


def _params_at(source: str, line_start: int, line: str) -> str | None:
    """The parameter list of the `def` header on the line starting at `line_start`, from after its `(` to its `)`."""
    opening = line.find("(")
    if opening < 0:
        return None
    close = closing_bracket(source, line_start + opening)
    return source[line_start + opening + 1 : (close + 1 if close is not None else None)]


def _read(path: str) -> str | None:
    """The text of the file at `path` (cached while its modification time holds), or None if it cannot be read."""
    try:
        mtime = os.stat(path).st_mtime
        cached = _SOURCES.get(path)
        if cached is None or cached[0] != mtime:
            if len(_SOURCES) >= _MAX_SOURCES:
                _SOURCES.clear()
            with open(path, encoding="utf-8", errors="replace") as handle:
                _SOURCES[path] = (mtime, handle.read())
        return _SOURCES[path][1]
    except OSError:
        return None
