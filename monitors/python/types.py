"""Python facts for the `types` monitor (`mgd.monitors.types`): what a place expects, what a member gives, and whether it fits.

Expected, read from the text before the receiver (outside brackets only:
there a line break ends the expression):

- `return recv.` in a function annotated `-> T`: `T`; `name: T = recv.`: `T`.
  An annotation that admits None (`Optional`, `| None`, `None`, `Any`,
  `object`) constrains nothing; one the rules cannot read (`list[Crate]`,
  a string) asks only for some value;
- `if`, `elif`, `while`, `assert`, `and`, `or`, `not`, an operand of `+ -
  * / % < >`: some value (Python takes any value as a condition, but not
  the None a `-> None` method gives as an operand or a useful condition).

Member types: jedi lists none, so each method of the list is resolved
(`completionItem/resolve`, by label against the list just asked; about 2 ms
each, at most `MAX_RESOLVES` per dot, dunders never, plain names first) and its `detail`, `def count() ->
int`, read; a method without a return annotation, attributes and
properties are unknown: they fit. jedi shows an overloaded function's first
signature only; overloads are rare outside typeshed, and a typeshed overload
returning a type variable or a union is unknown anyway.

Fits: equal names; `object`; the numeric tower (`bool` into `int`, `int`
into `float`, `float` into `complex`); a project class by the bases the
project's sources declare (`class Crate(Box):`); a builtin into another
builtin never. A project `Protocol` is structural: anything may fit it
(unknown). A name the rules cannot place is unknown and fits.
"""

from __future__ import annotations

import os
import re

from mgd.monitors.dereference import closing_bracket, opening_bracket
from mgd.monitors.python.arguments import parameter_type, split_top_level
from mgd.monitors.python.checked import checked_type, may_be_none, parts
from mgd.monitors.python.lexer import STRING_PREFIXES
from mgd.monitors.python.stdlib_types import closed_stdlib_class, stdlib_supertypes
from mgd.monitors.types import DeclaredTypes, Expectation, judged, receiver_start

MAX_RESOLVES = 24
_BUILTIN_TYPES: dict[tuple, dict[str, list[str | None]]] = {}
_METHOD = 3
BUILTINS = frozenset({"int", "float", "complex", "bool", "str", "bytes", "list", "dict", "tuple", "set", "frozenset"})
# builtins no other class is promoted to (`bytes` may take a `bytearray` where promotions are on)
_NOMINAL_BUILTINS = BUILTINS - {"float", "complex", "bytes"}
_TOWER = {"bool": {"int", "float", "complex"}, "int": {"float", "complex"}, "float": {"complex"}}
_OPEN_ANNOTATION = re.compile(r"\b(?:Optional|None|Any|object|Union)\b|\|")
_SIMPLE = re.compile(r"^[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*$")
_VALUE_KEYWORD = re.compile(r"(?:^|[^\w.])(?:if|elif|while|assert|and|or|not)$")
_ANNOTATED = re.compile(r"[ \t]*(?:self\.)?[A-Za-z_]\w*[ \t]*:[ \t]*(?P<type>[^=]+?)[ \t]*=")
_ONE_LINE_DEF = re.compile(r"\s*(?:async\s+)?def\s+\w+\s*\(.*\)\s*(?:->\s*(?P<type>[^:]+?)\s*)?:\s*return")


def expectation(session, document, text: str) -> Expectation | None:
    """What the Python expression ending at the dot that ends `text` must give (None: no opinion)."""
    start = receiver_start(text, "_")
    if start is None or _inside_brackets(text, start):
        return None
    line_start = text.rfind("\n", 0, start) + 1
    before = text[line_start:start].rstrip()
    if "#" in before or before.count('"') % 2 or before.count("'") % 2:
        return None  # a comment or a string: the monitor does not read into them
    if re.search(r"(?:^|[^\w.])await$", before):
        return None
    one_line = _ONE_LINE_DEF.fullmatch(before)
    if one_line:  # `def f(b: Bay) -> bool: return b.`
        return _annotated(one_line.group("type"), "return")
    if re.fullmatch(r"\s*return", before):
        annotation = _return_annotation(text[:line_start], len(text[line_start:start]) - len(text[line_start:start].lstrip()))
        return _annotated(annotation, "return")
    match = _ANNOTATED.fullmatch(before)
    if match:
        return _annotated(match.group("type"), "assignment")
    if _VALUE_KEYWORD.search(before):
        return Expectation(None, "condition")
    if before and before[-1] in "+-*/%<>" and not before.endswith(("->", "**")):
        return Expectation(None, "operand")
    return None


def _annotated(annotation: str | None, where: str) -> Expectation | None:
    """The expectation an annotation gives: its type, some value (unreadable), or None (it admits None)."""
    if annotation is None:
        return None
    annotation = annotation.strip()
    if not annotation or _OPEN_ANNOTATION.search(annotation):
        return None
    if _SIMPLE.match(annotation):
        return Expectation(annotation.rsplit(".", 1)[-1], where)
    return Expectation(None, where)


def _return_annotation(before_line: str, indent: int) -> str | None:
    """The return annotation of the innermost `def` around a line indented `indent` (None if unannotated or none)."""
    for start, own, stripped in enclosing_lines(before_line, len(before_line), indent):
        if re.match(r"(?:async\s+)?def\b", stripped):
            return _header_returns(before_line[start:])
        if stripped.startswith("class ") or own == 0:
            return None
    return None


def enclosing_lines(text: str, at: int, indent: int):
    """(start, indent, stripped text) of each line before position `at` of `text` that opens a block around a line indented `indent`, innermost first.

    A line that closes a bracket opened on an earlier line continues that
    line: the walk goes on from where the bracket opened. Black writes a long
    header `def f(\n    a: int,\n) -> int:` with its `)` at the `def`'s indent,
    which would otherwise pass for a block of its own and hide the `def`.
    """
    position = text.rfind("\n", 0, at) + 1
    while position > 0:
        previous = text.rfind("\n", 0, position - 1) + 1
        line = text[previous : position - 1]
        position = previous
        while (opened := _continued_from(text, previous, line)) is not None:
            previous = text.rfind("\n", 0, opened) + 1
            line = text[previous : text.find("\n", opened)]
            position = previous
        stripped = line.lstrip()
        own = len(line) - len(stripped)
        if not stripped or stripped.startswith("#") or own >= indent:
            continue
        yield previous, own, stripped
        indent = own


def _continued_from(text: str, start: int, line: str) -> int | None:
    """Where the bracket was opened that `line` (at `start` of `text`) starts by closing; None if it starts with none.

    Only a line that starts with its closing bracket, and only if the lines
    between are indented deeper than the line that opened it (as Black lays
    a header out): a `1) load` in a docstring must not send the walk to a
    stray `(` far above.
    """
    stripped = line.lstrip()
    if not stripped or stripped[0] not in ")]}":
        return None
    depth, lowest, at = 0, 0, None
    for i, ch in enumerate(stripped):
        if ch == "#":
            break
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < lowest:
                lowest, at = depth, i
    opened = opening_bracket(text, start + len(line) - len(stripped) + at)
    if opened is None:
        return None
    opener = text[text.rfind("\n", 0, opened) + 1 : opened]
    indent = len(opener) - len(opener.lstrip())
    between = text[text.find("\n", opened) + 1 : start].split("\n")
    if any(b.strip() and len(b) - len(b.lstrip()) <= indent for b in between):
        return None
    return opened


def _header_returns(header: str) -> str | None:
    """The return annotation of the `def` that `header` starts with (None if it has none or cannot be read)."""
    match = re.match(r"\s*(?:async\s+)?def\s+\w+\s*(?:\[[^\]]*\]\s*)?\(", header)
    if match is None:
        return None
    close = closing_bracket(header, match.end() - 1)
    # an annotation has no `:` of its own; Black may lay it over lines (`-> dict[\n    str, int\n]:`)
    returns = re.match(r"\s*->\s*(?P<type>[^:]+?)\s*:", header[close + 1 :]) if close is not None else None
    return returns.group("type") if returns else None


# a generator (or async generator) may end with a bare `return` whatever it yields
_GENERATORS = frozenset({"Iterator", "Iterable", "Generator", "AsyncIterator", "AsyncIterable", "AsyncGenerator"})
_ANNOTATION_ORIGIN = re.compile(r"(?:[A-Za-z_]\w*\.)*(?P<name>[A-Za-z_]\w*)(?:\[.*\])?", re.S)


def returns_a_value(text: str, root: str | None) -> bool:
    """True if the innermost function around the line that ends `text` is annotated to return a class that is surely never None.

    Sure means a builtin (`int`, `list[str]`), a class the project declares
    or a closed standard-library class: a plain name may be an alias of an
    `Optional` (`MaybeStr = Optional[str]`), and a type variable may be
    None, so those are not. Generators may return bare.
    """
    line_start = text.rfind("\n") + 1
    line = text[line_start:]
    annotation = _return_annotation(text[:line_start], len(line) - len(line.lstrip()))
    if annotation is None:
        return False
    annotation = annotation.strip()
    if len(annotation) > 1 and annotation[0] == annotation[-1] and annotation[0] in "'\"":
        annotation = annotation[1:-1].strip()  # a forward reference (`-> "Response"`)
    origin = _ANNOTATION_ORIGIN.fullmatch(annotation)
    if origin is None or _OPEN_ANNOTATION.search(annotation):
        return False
    name = origin.group("name")
    if name in _GENERATORS:
        return False
    if name in BUILTINS:
        return True
    declared = bases(root)
    if declared.declares(name):  # declared once: `declares` leaves out the ambiguous names
        return "Protocol" not in declared.parents(name)
    # a name the project declares more than once may be any of them (a protocol), whatever the library has
    return not declared.ambiguous(name) and closed_stdlib_class(name)


def _inside_brackets(text: str, start: int) -> bool:
    """True if the receiver at `start` is inside an open bracket (a line break does not end the expression there).

    Read back to the last line that starts at column 0: an expression spanning lines opened its bracket there or later.
    """
    depth = 0
    top = 0
    for match in re.finditer(r"\n(?=[^\s#])", text[:start]):
        top = match.end()
    for ch in reversed(text[top:start]):
        if ch in ")]}":
            depth += 1
        elif ch in "([{":
            if depth == 0:
                return True
            depth -= 1
    return False


def member_types(session, items, names: frozenset[str]) -> dict[str, list[str | None]]:
    """Each method's return annotation from jedi's resolve (`def count() -> int`); nothing for the rest (unknown)."""
    from mgd.monitors.completion_memo import is_latest
    from mgd.monitors.dereference import item_name, own_names
    from mgd.monitors.python.values import known_builtin, not_callable

    if not hasattr(session, "resolve_completion"):
        return {}
    own = own_names(items)  # a builtin is told by jedi's own list, with or without the checker's additions
    builtin = known_builtin(session, own)
    key = (id(session), getattr(session, "pid", None), builtin)
    if builtin is not None and key in _BUILTIN_TYPES:
        return _BUILTIN_TYPES[key]
    if not is_latest(session, items):
        return {}
    # dunders are hidden unless the model writes one (`mgd.monitors.dereference`): not worth a request each
    methods = sorted(
        {n for i in items if i.kind == _METHOD and (n := item_name(i)) in names and not n.startswith("__")}, key=_plain_first
    )
    found: dict[str, list[str | None]] = {}
    for name in methods[:MAX_RESOLVES]:
        answer = session.resolve_completion(name)
        detail = str((answer or {}).get("detail") or "")
        match = re.match(rf"def {re.escape(name)}\(.*\)\s*->\s*(?P<type>.+)$", detail, re.S)
        found[name] = [_known(match.group("type")) if match else None]
    if builtin is None and not_callable(session, own):  # asks the literals' members once per server
        builtin = known_builtin(session, own)
    if builtin is not None:
        # `str.`, `list.`: the same members at every dot; resolved once per server
        _BUILTIN_TYPES[(id(session), getattr(session, "pid", None), builtin)] = found
    return found


def _plain_first(name: str) -> tuple[bool, str]:
    return name.startswith("_"), name


_GENERIC_ORIGINS = {"List": "list", "Dict": "dict", "Tuple": "tuple", "Set": "set", "FrozenSet": "frozenset"}


def argument_type(annotation: str) -> str | None:
    """A parameter annotation as the rules compare it: a class name, a generic builtin's origin (`tuple[int, int]`: `tuple`), else None."""
    annotation = annotation.strip()
    if len(annotation) > 1 and annotation[0] == annotation[-1] and annotation[0] in "'\"":
        annotation = annotation[1:-1].strip()  # a forward reference (`agent: "Agent"`) names the same class
    if _OPEN_ANNOTATION.search(annotation):
        return None
    generic = re.fullmatch(r"(?:typing\.)?(?P<origin>[A-Za-z_]\w*)\[.*\]", annotation, re.S)
    if generic:
        origin = _GENERIC_ORIGINS.get(generic.group("origin"), generic.group("origin"))
        return origin if origin in BUILTINS else None
    return _known(annotation)


def _known(annotation: str) -> str | None:
    """A return annotation as the rules compare it: `None`, a simple class name, or None (unknown: unions, generics, strings)."""
    annotation = annotation.strip()
    if annotation in ("None", "NoReturn", "Never"):
        return "None" if annotation == "None" else None
    if not _SIMPLE.match(annotation):
        return None
    head, _, name = annotation.rpartition(".")
    if name == "Text":  # `typing.Text` is `str`; a bare `Text` may be it or a class of that name
        return "str" if head in ("typing", "typing_extensions", "t") else None
    return None if name in ("Any", "object", "Self") or re.fullmatch(r"[A-Z]\d?|_\w+", name) else name


def verdict(expected: Expectation, member: str | None, root: str | None) -> str:
    """`VOID`, `NO` or `FITS` for a method returning `member` where `expected` holds (unknown types fit)."""
    return judged(expected, member, "None", lambda want, given: fits(want, given, bases(root)))


def fits(expected: str, member: str, bases: DeclaredTypes) -> bool | None:
    """True/False where the rules decide; None where they cannot."""
    if expected == member or expected == "object" or expected in _TOWER.get(member, ()):
        return True
    if bases.declares(expected) and "Protocol" in bases.parents(expected):
        return None  # structural: a class fits by its members, whatever its bases (a protocol's subclass is nominal)
    if member in BUILTINS:
        return False if expected in BUILTINS or bases.declares(expected) else None
    if bases.declares(member):
        mro = bases.supertypes(member)
        if expected in mro:
            return True
        return None if bases.leaves_project(member) else False
    if not bases.ambiguous(member) and closed_stdlib_class(member):
        if bases.declares(expected):
            return False  # no standard-library class inherits from a project class
        if expected in _NOMINAL_BUILTINS:
            return expected in stdlib_supertypes(member)  # a builtin only by its bases (`CoroutineType` is no `str`)
    return None


def bases(root: str | None) -> DeclaredTypes:
    """The project's classes and the bases their sources list (none without a root)."""
    return DeclaredTypes.read(("python", root or ""), _python_files(root) if root else (), class_statements, "object", limit=5000)


_CLASS = re.compile(r"^[ \t]*class\s+([A-Za-z_]\w*)\s*(?:\(([^)]*)\))?\s*:", re.M)


def class_statements(text: str):
    """(name, bases as written, no type parameters) for each class statement of Python source `text`."""
    for match in _CLASS.finditer(text):
        listed = match.group(2) or ""
        names = (part.strip().split("[", 1)[0].rsplit(".", 1)[-1] for part in listed.split(","))
        yield match.group(1), frozenset(n for n in names if n and "=" not in n), frozenset()


def _python_files(root: str):
    """The `.py` files under `root`, skipping virtual environments and hidden folders."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("venv", "site-packages", "node_modules", "__pycache__")]
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(folder, name)


_SELF_MEMBER = re.compile(r"(?<![\w.])self\.(?P<name>[A-Za-z_]\w*)$")


def optional_member(session, document, text: str) -> bool | None:
    """True if `self.name` or `self.name(...)` ending `text` may be None there (None: cannot say).

    An attribute: the type checker's type there is a union with None
    (`mgd.monitors.python.checked`: the declared or inferred type, not
    narrowed), and not if it has no None (narrowed: `if self.x is None:
    return` before). Where the checker gives no answer, or says None since
    an assignment (it keeps that across calls that may set it), an
    attribute declared with a type that admits None, and its function
    has not named it yet, or named it last in a line `self.name = None`
    that surely still holds (`_set_to_none_just_before`). A function
    narrows `self.name` only through text that names it (a test, an
    assert, an assignment, a match); one that has not named it holds the
    declared type. A method's call: its return
    annotation admits None (a call's value is never narrowed). The
    declarations come from one definition request (jedi lists every
    assignment of an attribute; its hover shows one of them at random): the
    annotated ones decide, and without one nothing is said.
    """
    if text.endswith(")"):
        return _optional_call(session, document, text)
    match = _SELF_MEMBER.search(text[-300:])
    if match is None:
        return None
    checked = checked_type(session, document, text)
    if checked is not None and (verdict := may_be_none(checked)) is not None:
        if not verdict:
            return False  # narrowed (or declared) without None
        if parts(checked) != ["None"]:
            return True  # the declared or inferred union, not narrowed here
        # None since an assignment: the checker keeps that across `self.connect()`, which may set it; the rules below do not
    name = match.group("name")
    at = len(text) - len(match.group(0))
    start = outermost_def(text, at)
    if start is None:
        return None
    asked = text
    mentions = list(re.finditer(rf"\bself\s*\.\s*{name}\b", text[start:at]))
    if mentions:
        line = _set_to_none_just_before(text[start:at], mentions[-1].start(), name)
        if line is None:
            return False  # named before: it may be narrowed
        # jedi would go to that assignment; blanked (same length), it shows the declarations
        begin, end = start + line[0], start + line[1]
        asked = text[:begin] + " " * (end - begin) + text[end:]
    found = _declared(session, document, asked, len(asked) - 1, lambda lines, line: _annotation_at(lines, line, name))
    declared = [a for a in found if a is not None]  # assignments without an annotation do not declare
    return None if not declared else all(admits_none(a) for a in declared)


# what, between `self.x = None` and a use of `self.x`, may set it again or leave the straight line:
# a method of `self` or a call given `self` (`self.reconnect()`, `reset(self)`), `setattr`, a
# decorator, `lambda`, `with` (its `__enter__`), `await`, ... A call on another object does not
# count: a checker keeps `self.x` narrowed across it, and so does this rule.
_MAY_CHANGE_IT = re.compile(
    r"\bself\s*\.\s*\w+\s*\(|\bself\s*[,)]|\b(?:setattr|vars|super|exec|eval)\s*\(|__dict__|@|:="
    r"|\b(?:lambda|await|yield|with|del|global|nonlocal|class|def)\b"
)


def _set_to_none_just_before(body: str, last: int, name: str) -> tuple[int, int] | None:
    """Where in `body` (a function up to a use of `self.name`) the line `self.name = None` is, if it is the last mention (at `last`) and surely still holds.

    It holds when nothing between could set it again or skip the line: no
    call of a method of `self` or call given `self`, no `setattr`, decorator,
    `lambda`, `with`, `await`, ... (`_MAY_CHANGE_IT`), and no line indented
    less than the assignment (another branch, or after a loop or `try` it
    may not have run in). A checker then knows the attribute is None.
    """
    line_start = body.rfind("\n", 0, last) + 1
    line_end = body.find("\n", last)
    if line_end < 0:
        return None  # on the line of the use itself
    assigned = re.fullmatch(rf"(\s*)self\.{name}\s*(?::[^=#]*)?=\s*None\s*(?:#.*)?", body[line_start:line_end])
    if assigned is None:
        return None
    indent = len(assigned.group(1))
    between = body[line_end:]
    if _MAY_CHANGE_IT.search(re.sub(r"#[^\n]*", "", between)):
        return None
    *lines, use = between.split("\n")[1:]
    for later in lines:
        stripped = later.lstrip()
        if stripped and not stripped.startswith("#") and len(later) - len(stripped) < indent:
            return None
    # the use's own line, up to the use, is within the assignment's block too
    return (line_start, line_end) if len(use) - len(use.lstrip()) >= indent else None


def _optional_call(session, document, text: str) -> bool | None:
    """True if `self.name(...)` ending `text` calls a method whose return annotation admits None (None: cannot say)."""
    opening = opening_bracket(text, len(text) - 1)
    if opening is None or len(text) - opening > 300 or re.search(r"[\"'#]", text[opening:]):
        return None  # a string or comment in the arguments could hide a bracket
    match = _SELF_MEMBER.search(text[max(0, opening - 300) : opening])
    if match is None:
        return None
    name = match.group("name")
    declared = _declared(session, document, text, opening - 1, lambda lines, line: _returns_at(lines, line, name))
    return None if not declared or None in declared else all(admits_none(a) for a in declared)


def _declared(session, document, text: str, at: int, read) -> list:
    """`read(lines, line)` at each place the server says the name at `at` is defined (`lines`: the file's there)."""
    buffer = text + "\n" + document.suffix  # a line break keeps the rest of the file from running into the name
    found = []
    for location in session.definition(document.path, buffer, at) or []:
        if os.path.abspath(str(location.path)) == os.path.abspath(str(document.path)):
            lines = buffer.split("\n")  # the text as the server read it, not the file on disk
        else:
            try:
                with open(location.path, encoding="utf-8", errors="replace") as handle:
                    lines = handle.read().split("\n")
            except OSError:
                continue
        if 0 <= location.line < len(lines):
            found.append(read(lines, location.line))
    return found


def _annotation_at(lines: list[str], line: int, name: str) -> str | None:
    """The annotation of the declaration of attribute `name` on `lines[line]` (`self.x: T = ...` or `x: T` in a class body), if it has one."""
    match = re.match(rf"\s*(?:self\.)?{re.escape(name)}\s*:\s*(?P<type>[^=]+?)\s*(?:=.*)?$", lines[line])
    return match.group("type") if match else None


def _returns_at(lines: list[str], line: int, name: str) -> str | None:
    """The return annotation of `def name(...) -> T:` starting on `lines[line]`; None for none, an overload or a property."""
    above = line - 1
    while above >= 0 and lines[above].strip().startswith("@"):
        if re.match(r"\s*@(?:typing\.)?(?:overload|property)\b|\s*@\w+\.(?:setter|getter)\b", lines[above]):
            return None
        above -= 1
    header = "\n".join(lines[line : line + 30])
    if not re.match(rf"\s*(?:async\s+)?def\s+{re.escape(name)}\b", header):
        return None
    return _header_returns(header)


def outermost_def(text: str, at: int) -> int | None:
    """Where the outermost `def` around position `at` of `text` starts (None at module or class level)."""
    line_start = text.rfind("\n", 0, at) + 1
    current = text[line_start:at]
    found = None
    for start, own, stripped in enclosing_lines(text, line_start, len(current) - len(current.lstrip())):
        if re.match(r"(?:async\s+)?def\b", stripped):
            found = start
        elif stripped.startswith("class ") or own == 0:
            break
    return found


def admits_none(annotation: str) -> bool:
    """True if an annotation is a union with None in it at the top: `X | None`, `Optional[X]`, `Union[X, None]`."""
    annotation = annotation.strip()
    if len(annotation) > 1 and annotation[0] == annotation[-1] and annotation[0] in "'\"":
        annotation = annotation[1:-1].strip()  # a forward reference: the checker reads the string
    head = re.match(r"(?:typing\.)?(Optional|Union)\[(.*)\]$", annotation, re.S)
    if head:
        return head.group(1) == "Optional" or "None" in split_top_level(head.group(2))
    return "None" in split_top_level(annotation, "|")


_MAX_NAME_RESOLVES = 6


def literal_type(text: str) -> str | None:
    """`int` for a decimal literal (`32`, `1_000`), `bool` for `True`/`False`, `str` or `bytes` for a string (`"a"`, `f'{x}'`, `b""`); None for any other text."""
    if re.fullmatch(r"(?:0|[1-9](?:_?\d)*)", text):
        return "int"
    string = re.fullmatch(r"(?P<prefix>[A-Za-z]{0,2})(?P<quote>['\"]).*(?P=quote)", text, re.S)
    if string:
        return STRING_PREFIXES.get(string.group("prefix").lower())
    return "bool" if text in ("True", "False") else None


def variable_types(session, items, text: str) -> dict[str, str]:
    """The annotation of each parameter in `items` named like the name ending `text`, where the function has not named it since its header.

    Python narrows a name where it is tested or assigned (`isinstance(x,
    Sub)` makes `x: Base` a `Sub`), so only a parameter its function has
    not named again still holds its declared type; every other name is
    unknown. Annotations come from jedi's resolve (`param size: int=0`), at
    most `_MAX_NAME_RESOLVES` per list.
    """
    from mgd.monitors.completion_memo import is_latest
    from mgd.monitors.dereference import item_name
    partial = re.search(r"[A-Za-z_]\w*$", text)
    if partial is None or not is_latest(session, items):
        return {}
    start = outermost_def(text, partial.start())
    if start is None:
        return {}
    before = text[start : partial.start()]
    indent = _indent_of_line(text, partial.start())
    stem = partial.group(0)
    names = sorted({n for i in items if (n := item_name(i)).startswith(stem) and not i.label.endswith("=")})
    found: dict[str, str] = {}
    for name in [n for n in names if _only_in_an_enclosing_header(before, n, indent)][:_MAX_NAME_RESOLVES]:
        detail = str((session.resolve_completion(name) or {}).get("detail") or "")
        given = parameter_type(detail[len("param ") :]) if detail.startswith(f"param {name}:") else None
        if given is not None:
            found[name] = given
    return found


def _indent_of_line(text: str, at: int) -> int:
    line = text[text.rfind("\n", 0, at) + 1 : at]
    return len(line) - len(line.lstrip())


def _only_in_an_enclosing_header(text: str, name: str, indent: int) -> bool:
    """True if `name` occurs once in `text`, inside the parameters of a `def` indented less than `indent` (a function around the end)."""
    found = [m.start() for m in re.finditer(rf"(?<![\w.]){re.escape(name)}\b", text)]
    if len(found) != 1:
        return False
    for header in re.finditer(r"(?m)^([ \t]*)(?:async[ \t]+)?def[ \t]+\w+[ \t]*\(", text):
        if len(header.group(1)) >= indent:
            continue
        close = closing_bracket(text, header.end() - 1)
        if close is not None and header.end() <= found[0] < close:
            return True
    return False
