"""The paper's Java monitors, on JDT.LS answers.

- `deref` is the language-neutral `DereferenceMonitor` with the Java scanner.
- `JavaArgumentMonitor` (`args`): at `method(` the call may end only with a
  number of arguments that one of the method's overloads takes.
- `EnumCaseMonitor` (`enums`): after `case ` in a switch over an enum, only
  that enum's constants.
- `NewMonitor` (`new`): after `new `, only types JDT.LS can construct there
  that the file can name as written (its own package, `java.lang`, its
  imports; nested types are left open; and the first segment of a qualified
  name such as `java` in `new java.util.ArrayList<>()`), less the enums
  the project's own sources declare. Its abstract classes and interfaces
  may follow `new` only with a class body (`new Listener() { ... }`) or as
  an array (`new Listener[3]`): the expression may not end right after
  their call. JDT.LS says nothing of abstractness in its items, so abstract
  types of the JDK and of jars stay free. The primitive types, which JDT.LS
  does not offer there, are allowed too, only for an array (`new char[n]`). JDT.LS proposes types only once a letter is typed, so the monitor
  sweeps A-Z once per server and filters the sweep per file.

Each gives up (no constraint) when the server fails or offers nothing of the
kind it needs, as in a switch over an `int`.
"""

from __future__ import annotations

import os
import pathlib
import re
import threading
import time
from typing import NamedTuple

from mgd.monitors.base import Document, Monitor, Names, Trigger
from mgd.monitors.calls import CallMonitor, Signature
from mgd.monitors.dereference import item_name

# LSP CompletionItemKind values.
_CONSTRUCTOR, _CLASS, _ENUM_MEMBER = 4, 7, 20
_SWEEP = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SWEEP_PATIENCE = 60.0  # seconds one request of a sweep asked ahead may take (a fresh JDT.LS indexes first)
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
        if getattr(items, "is_incomplete", False):
            return None
        names = {item_name(item) for item in items if item.kind == _ENUM_MEMBER}
        names.discard("")
        return frozenset(names) or None


# Java's primitive types: after `new` only for an array; the `types` rules widen and box them
PRIMITIVES = frozenset({"byte", "short", "char", "int", "long", "float", "double", "boolean"})


class NewMonitor(Monitor):
    """After `new `, only classes that can be instantiated and that the file can name (see the module docstring)."""

    name = "new"

    def __init__(self) -> None:
        # What a project's server offers after `new ` hardly depends on the
        # text around it (types are proposed with an automatic import), so one
        # sweep per server is kept; a restarted server is a new entry. Kept per
        # instance, not per process: a class the project gains later must not
        # be masked by an old sweep (`mgd serve` keeps its monitors per
        # session; `mgd.generate` makes new ones per call). Which of them a
        # file can name depends on its package and imports: that is worked
        # out per file from the sweep.
        self._offered: dict[tuple[int, int | None], dict[str, frozenset[str]]] = {}
        self._sweeping: set[tuple[int, int | None]] = set()  # servers a thread is sweeping now
        self._lock = threading.Lock()  # a background warm-up and the steps share the two

    def trigger(self, state, line: str) -> Trigger | None:
        """Fires right after the keyword `new` in code."""
        if not state.in_code or not line.endswith(("w", " ", "\t")):
            return None
        match = _NEW.search(line)
        return _after_keyword(match, match.group("space")) if match else None

    warms_up = True

    def warm_up(self, session, document: Document, send=None) -> None:
        """Sweep the types now, while nothing waits for them (each request through `send`, if given).

        The sweep is 26 completions over the whole classpath: about 20 s on
        httpcomponents-client (measured 2026-12-05), longer than a step may
        wait, and the server stays busy with it after the step gave up. The
        evaluation sweeps once per project before its first sample; a guide
        sweeps in the background when it first meets a server
        (`mgd.decoding.warm_up`).
        """
        # at the start of the prompt's own line: a statement may begin with `new` there
        start = document.prefix.rsplit("\n", 1)[0] + "\n"
        self._offered_by(session, Document(document.path, start + "new ", document.suffix), "", send, ahead=True)

    def allowed_names(self, session, document: Document, generated: str) -> frozenset[str] | None:
        """Types the server offers here that the file can name, less the project's enums; and the first segments of qualified names.

        The project's abstract classes and interfaces stay, marked `no_end`:
        `new Listener() { ... }` (an anonymous class) and `new Listener[3]`
        compile, `new Listener();` does not, so the expression may not end
        right after the call (`mgd.decoding.chain_rules`).
        """
        offered = self._offered_by(session, document, generated)
        if offered is None:
            return None  # the server failed: ask again next time
        scope = FileScope.of(document.prefix + generated)
        enums, abstract = abstract_types(getattr(session, "root", None))
        names, no_end = set(), set()
        # The project's own types are never masked, whatever the sweep saw: one written since it (in this document,
        # or saved), or one of another module of a multi-module build, which JDT.LS does not offer from the module
        # the sweep was made in (`mgd pragmaticcode truth` found `new GenericURLFileName` banned in commons-vfs).
        own = project_types(getattr(session, "root", None))
        own.update(declared_types(document.prefix + generated + document.suffix))
        for name, fqn in own.items():
            if scope.can_name(fqn):
                names.add(name)
                if fqn in abstract:
                    no_end.add(name)
        for name, fqns in offered.items():
            nameable = {f for f in fqns if scope.can_name(f)}
            # judged only where every type the name can mean here is the project's (an import may bring another)
            if not nameable or nameable <= enums:
                continue
            names.add(name)
            if nameable <= abstract:
                no_end.add(name)
        if names:
            # `new java.util.ArrayList<>()` names any type in full: its first segment may start it
            names |= {f.split(".", 1)[0] for fqns in offered.values() for f in fqns if "." in f}
            # an array of a primitive type (`new char[width]`; `mgd pragmaticcode truth` found it banned in jsoup)
            names |= PRIMITIVES
            no_end |= PRIMITIVES
        return Names(names, no_end=no_end) if names else None

    def _offered_by(
        self, session, document: Document, generated: str, send=None, ahead: bool = False
    ) -> dict[str, frozenset[str]] | None:
        """The sweep of this server, made now if it was not yet; None if the server failed or another thread is sweeping."""
        key = (id(session), getattr(session, "pid", None))
        with self._lock:
            if key in self._offered:
                return self._offered[key]
            if key in self._sweeping:
                return None  # a background warm-up is at it: no constraint now, rather than a second sweep
            self._sweeping.add(key)
        try:
            offered = self._sweep(session, document, generated, send or (lambda ask: ask()), ahead)
        finally:
            with self._lock:
                self._sweeping.discard(key)
        if offered is not None:
            with self._lock:
                self._offered[key] = offered
        return offered

    def _sweep(self, session, document: Document, generated: str, send, ahead: bool) -> dict[str, frozenset[str]] | None:
        # JDT.LS proposes only the expected type after a bare `new `; with one
        # letter typed it proposes every type starting with it. Each item's
        # detail is the type's qualified name (`java.util.zip.ZipFile`).
        text = document.prefix + generated
        found: dict[str, set[str]] = {}
        # asked ahead, a sweep may wait for a server still indexing its classpath: slow is not hung there
        patient = {"patience": SWEEP_PATIENCE} if ahead else {}
        for letter in _SWEEP:
            typed = text + letter + document.suffix
            items = send(lambda typed=typed: session.completions(document.path, typed, len(text) + 1, **patient))
            if items is None or getattr(items, "is_incomplete", False):
                return None
            for item in items:
                name = item_name(item)
                if item.kind in (_CONSTRUCTOR, _CLASS) and _IDENTIFIER.match(name):
                    found.setdefault(name, set()).add(_qualified(item, name))
        return {name: frozenset(fqns) for name, fqns in found.items()}


_METHOD_KINDS = frozenset({2, 3, 4})  # method, function, constructor
_FIELD_KINDS = frozenset({5, 20, 21})  # field, enum member, constant


def member_rules(items, names: frozenset[str]) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(no_call, checked, hidden) for JDT.LS's member items after a dot (see `mgd.monitors.dereference`).

    JDT.LS labels a field `capacityLimit : int` (kind 5), an enum constant
    `CARNIVORE : Diet` (kind 20) and `Diet.class` (kind 5), with the
    declaring type in the detail (`Pen.capacityLimit : int`). Java keeps
    fields and methods apart: `pen.capacityLimit(` never compiles unless a
    method of that name exists, so a field that is no method's name in the
    same list takes no `(`. Nothing is hidden: JDT.LS offers no metaclass
    members, and after a type (`Diet.`) only its static members.
    """
    fields, methods = set(), set()
    for item in items:
        name = item_name(item)
        if item.kind in _FIELD_KINDS:
            fields.add(name)
        elif item.kind in _METHOD_KINDS:
            methods.add(name)
    return frozenset((fields - methods) & names), frozenset(), frozenset()


def _qualified(item, name: str) -> str:
    """The qualified name of a proposed type (its detail), or the bare name when the detail says nothing else."""
    detail = (getattr(item, "detail", "") or "").strip()
    return detail if _QUALIFIED.match(detail) and detail.rsplit(".", 1)[-1] == name else name


_QUALIFIED = re.compile(r"^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$")
_PACKAGE_LINE = re.compile(r"^\s*package\s+([\w.]+)\s*;", re.MULTILINE)
_IMPORT_LINE = re.compile(r"^\s*import\s+(static\s+)?([\w.]+?)(\.\*)?\s*;", re.MULTILINE)


class FileScope:
    """Which types a Java file can name by their simple name: its own package, `java.lang`, its imports."""

    def __init__(self, package: str, types: frozenset[str], packages: frozenset[str]) -> None:
        self.package, self.types, self.packages = package, types, packages

    @classmethod
    def of(cls, text: str) -> "FileScope":
        """The scope read from a file's `package` and `import` lines (`text`: the file up to the point)."""
        match = _PACKAGE_LINE.search(text)
        types, packages = set(), {"java.lang"}
        for m in _IMPORT_LINE.finditer(text):
            if m.group(1):
                continue  # static imports bring members (and nested types, which stay allowed anyway)
            (packages if m.group(3) else types).add(m.group(2))
        return cls(match.group(1) if match else "", frozenset(types), frozenset(packages))

    def can_name(self, fqn: str) -> bool:
        """True unless `fqn` is a top-level type of another package that the file does not import.

        Nested types (`Map.Entry`, the file's own inner classes) and names
        without a package are given the benefit of the doubt.
        """
        container, _, _ = fqn.rpartition(".")
        if not container or container.rsplit(".", 1)[-1][:1].isupper():
            return True
        return container == self.package or container in self.packages or fqn in self.types


_DECLARES_ABSTRACT = re.compile(r"\b(abstract\s+(?:[a-z]+\s+)*class|interface|enum)\s+([A-Za-z_$][\w$]*)")
_DECLARES = re.compile(r"\b(?:class|interface|record)\s+([A-Za-z_$][\w$]*)")
_PACKAGE = re.compile(r"\bpackage\s+([\w$.\s]+?)\s*;")
_SCAN_EVERY = 10.0  # seconds between two looks at the project's sources
# root -> (when last looked, {path: (mtime, the file's declarations)})
_scans: dict[str, tuple[float, dict[str, tuple[float, "_Declared"]]]] = {}


class _Declared(NamedTuple):
    """What one Java source declares: buildable-or-not type names by simple name, and the qualified enums and abstract types."""

    types: dict[str, str]  # classes, interfaces, records (no enums: `new` never builds one): simple name -> qualified
    enums: frozenset[str]
    abstract: frozenset[str]  # abstract classes and interfaces: `new` builds them only with a class body


def _package_prefix(code: str) -> str:
    """`org.acme.` for comment-free source `code` in package `org.acme` ('' in the default package)."""
    package = _PACKAGE.search(code)
    return re.sub(r"\s+", "", package.group(1)) + "." if package else ""  # the lexer's tokens come space-joined


def _declared(text: str) -> _Declared:
    """The types Java source `text` declares (a nested type is named as if top-level in the file's package)."""
    code = _strip_comments(text)
    prefix = _package_prefix(code)
    types = {m.group(1): prefix + m.group(1) for m in _DECLARES.finditer(code) if code[max(0, m.start() - 2) : m.start()].strip() not in (".", "@")}
    enums, abstract = set(), set()
    for match in _DECLARES_ABSTRACT.finditer(code):
        (enums if match.group(1) == "enum" else abstract).add(prefix + match.group(2))
    return _Declared(types, frozenset(enums), frozenset(abstract))


def declared_types(text: str) -> dict[str, str]:
    """Each class, interface and record Java source `text` declares, with its qualified name."""
    return _declared(text).types


def _project_scan(root: str, limit: int = 20000) -> list[_Declared]:
    """Every project source's declarations; a file is read again only when it changed, the tree looked at most every `_SCAN_EVERY` s."""
    now = time.monotonic()
    last, files = _scans.get(root, (0.0, {}))
    if now - last >= _SCAN_EVERY:
        seen: dict[str, tuple[float, _Declared]] = {}
        for count, path in enumerate(pathlib.Path(root).rglob("*.java")):
            if count >= limit:
                break
            try:
                mtime = os.stat(path).st_mtime
                kept = files.get(str(path))
                if kept is None or kept[0] != mtime:
                    kept = (mtime, _declared(path.read_text(encoding="utf-8", errors="replace")))
            except OSError:
                continue
            seen[str(path)] = kept
        files = seen
        _scans[root] = (now, files)
    return [declared for _mtime, declared in files.values()]


def project_types(root: str | None) -> dict[str, str]:
    """The classes, interfaces and records the project's `.java` files declare, by simple name."""
    return {name: fqn for declared in (_project_scan(root) if root else ()) for name, fqn in declared.types.items()}


def abstract_types(root: str | None) -> tuple[frozenset[str], frozenset[str]]:
    """The qualified names of the (enums, abstract classes and interfaces) the project's sources declare: `new` never builds the first, the second only with a class body.

    A nested type is named as if it were top-level in its file's package:
    such a name matches no type JDT.LS offers, so it is never judged.
    """
    scan = _project_scan(root) if root else []
    return frozenset().union(*(d.enums for d in scan)), frozenset().union(*(d.abstract for d in scan))


def _strip_comments(text: str) -> str:
    """`text` with comments, strings and character literals blanked (their words are not declarations)."""
    from mgd.pragmaticcode.java.lexer import spans

    kept = [text[t.start : t.end] for t in spans(text) if t.kind not in ("string", "char", "text_block")]
    return " ".join(kept)


class JavaArgumentMonitor(CallMonitor):
    """At `method(`: the call may close only with as many arguments as some overload takes."""

    def signature(self, session, document: Document, generated: str) -> Signature | None:
        """All overloads the server lists at the `(`, merged into one Signature (None if none)."""
        text = document.prefix + generated
        answer = session.signature_help(document.path, closed_call(text, document.suffix), len(text))
        return java_signature((answer or {}).get("signatures") or [])


def closed_call(text: str, suffix: str) -> str:
    """The document to ask signature help in at the end of `text`, an open call's argument list: the call closed.

    Where nothing after the cursor closes the call (the rest of the method is
    not written yet) and an annotated declaration follows, as in `type.emit(`
    before `@Override`, JDT.LS's parser finds no call and answers no signature;
    a `)` at the cursor lets it find the call without changing which it is.
    """
    return text + ")" + suffix


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
    from mgd.monitors.java.types import overloads_of, parameter_type  # the type rules import this module

    types: tuple[str | None, ...] = ()
    overloads: tuple = ()
    if len(signatures) == 1 and varargs_from is None:
        types = tuple(parameter_type(p) for p in signatures[0].get("parameters") or [])
    else:
        overloads = overloads_of(signatures)
    return Signature(
        positional=tuple(f"arg{i}" for i in range(longest)),
        keyword=frozenset(),
        required=frozenset(),
        var_positional=varargs_from is not None,
        var_keyword=True,  # `name = value` in Java is an assignment expression, not a keyword argument
        arities=frozenset(counts),
        varargs_from=varargs_from,
        trailing_comma=False,
        keyword_arguments=False,
        types=types,
        overloads=overloads,
    )
