"""Choosing Java prompts: dots in method bodies whose next name is defined in another file or a jar.

Candidates come from tree-sitter-java: a field access (`obj.name`) or a
method invocation (`obj.name(...)`) inside the body of a method or
constructor, where the `.` is directly followed by the name (no space, no
type arguments: `obj.<T>name()` is skipped). Dots in strings, comments, char
and number literals are never nodes of these kinds, so they never count.

What the receiver may be:
- any expression: a variable, a call, `this`, `super`, `Outer.this`, a type
  name for static members (`Collections.emptyList`);
- not a package name: in an identifier chain such as `java.util.List.of()`
  the dots whose receiver holds only lower-case segments and whose chain
  goes on to an upper-case segment (`java.` and `util.`) are skipped;
- `this.x` is kept as a candidate: when `x` is declared in the same class
  the language server places it in the same file and the candidate is
  dropped by the rule below; when it is inherited from a class in another
  file (or a jar) it is exactly the global context the paper is about.

A candidate becomes a prompt only when JDT.LS's `textDocument/definition`
at the name places it in ANOTHER file of the project (`project`) or in a
jar of the classpath (`dependency`); the JDK and the same file do not count.
"""

from __future__ import annotations

import bisect
import pathlib
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote

from mgd.pragmaticcode.dataset import Limits
from mgd.pragmaticcode.prompts import Prompt, make_prompt

_METHODS = ("method_declaration", "constructor_declaration", "compact_constructor_declaration")
_TYPES = ("class_declaration", "interface_declaration", "enum_declaration", "record_declaration", "annotation_type_declaration")
_CHAIN = ("identifier", "field_access")
_parser = None


@dataclass(frozen=True)
class Candidate:
    """A dot in a method body, before asking where its name is defined."""

    function: str  # `Class.method` (nested classes as `Outer.Inner.method`)
    start: int  # the method declaration's first character (modifiers, annotations)
    end: int  # just after the method's closing `}`
    indent: int  # the column of `start`
    dot: int
    name: str


def parser():
    """A tree-sitter parser for Java (made once)."""
    global _parser
    if _parser is None:
        import tree_sitter
        import tree_sitter_java

        _parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_java.language()))
    return _parser


class _Offsets:
    """tree-sitter gives UTF-8 byte offsets; prompts use str offsets."""

    def __init__(self, text: str, data: bytes) -> None:
        self.ascii = len(data) == len(text)
        if not self.ascii:
            self.table = [0] * (len(data) + 1)
            position = 0
            for index, char in enumerate(text):
                size = len(char.encode("utf-8", errors="surrogatepass"))
                for k in range(size):
                    self.table[position + k] = index
                position += size
            self.table[len(data)] = len(text)

    def __call__(self, byte: int) -> int:
        return byte if self.ascii else self.table[byte]


def candidates(text: str) -> Iterator[Candidate]:
    """Every `receiver.name` in a method or constructor body whose dot is directly followed by the name."""
    data = text.encode("utf-8")
    tree = parser().parse(data)
    at = _Offsets(text, data)
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def column(offset: int) -> int:
        return offset - line_starts[bisect.bisect_right(line_starts, offset) - 1]

    found: list[Candidate] = []
    stack = [(tree.root_node, (), None)]  # iterative: deep expressions would overflow Python's stack
    while stack:
        node, scope, method = stack.pop()
        kind = node.type
        if kind in _TYPES:
            name = node.child_by_field_name("name")
            scope = (*scope, name.text.decode("utf-8", "replace") if name is not None else "?")
            method = None  # a local or member class's methods are methods of their own
        elif kind in _METHODS:
            body = node.child_by_field_name("body")
            name = node.child_by_field_name("name")
            if body is None or name is None or body.has_error:
                continue
            start, end = at(node.start_byte), at(node.end_byte)
            stack.append((body, scope, (".".join([*scope, name.text.decode("utf-8", "replace")]), start, end, column(start))))
            continue
        elif kind in ("field_access", "method_invocation") and method is not None:
            dot = _dot_of(node, at)
            if dot is not None:
                found.append(Candidate(*method, *dot))
        # (an anonymous class's methods, inside a method, become the innermost methods via _METHODS)
        stack.extend((child, scope, method) for child in reversed(node.children))
    yield from sorted(found, key=lambda c: c.dot)


def _dot_of(node, at: _Offsets) -> tuple[int, str] | None:
    children = node.children
    for i, child in enumerate(children):
        if child.type != ".":
            continue
        if i == 0 or i + 1 >= len(children):
            return None
        receiver, name = children[i - 1], children[i + 1]
        if name.type != "identifier" or name.start_byte != child.end_byte:
            return None  # `.this`, `.class`, `.<T>name`, `.new`, or a space or line break after the dot
        if _is_package_dot(node, receiver):
            return None
        return at(child.start_byte), name.text.decode("utf-8", "replace")
    return None


def _chain_names(node) -> list[str] | None:
    """The identifiers of a pure identifier chain (`a`, `a.b.c`), else None."""
    if node.type == "identifier":
        return [node.text.decode("utf-8", "replace")]
    if node.type == "field_access":
        obj, field = node.child_by_field_name("object"), node.child_by_field_name("field")
        inner = _chain_names(obj) if obj is not None else None
        if inner is None or field is None or field.type != "identifier":
            return None
        return [*inner, field.text.decode("utf-8", "replace")]
    return None


def _is_package_dot(node, receiver) -> bool:
    """A dot of a package name: lower-case identifiers before it, an upper-case one later in the same chain."""
    before = _chain_names(receiver)
    if before is None or not all(name[:1].islower() for name in before):
        return False
    top = node
    while top.parent is not None and top.parent.type == "field_access" and top.parent.child_by_field_name("object") == top:
        top = top.parent
    whole = _chain_names(top) if top.type == "field_access" else None
    if whole is None and top.type == "method_invocation":
        obj, name = top.child_by_field_name("object"), top.child_by_field_name("name")
        inner = _chain_names(obj) if obj is not None else None
        whole = [*inner, name.text.decode("utf-8", "replace")] if inner is not None and name is not None else None
    if whole is None:
        return False
    return any(name[:1].isupper() for name in whole[len(before) :])


# -- where a name is defined --------------------------------------------------------


def definition_kind(build, location_path: str, current: pathlib.Path) -> tuple[str, str] | None:
    """('project' | 'dependency', file) for a definition outside `current`, else None (same file, JDK, unknown).

    `location_path` is an absolute file path, or a `jdt://contents/JAR/PACKAGE/Class.class?=...`
    URI for a class in a jar: a dependency when the URI names a jar of the
    classpath (its `file` is then `JAR/PACKAGE/Class.class`), else the JDK.
    """
    if location_path.startswith("/"):
        where = pathlib.Path(location_path).resolve()
        if where == current.resolve():
            return None
        try:
            return "project", where.relative_to(build.root.resolve()).as_posix()
        except ValueError:
            pass
        jar = _jar_of(build, location_path)
        return ("dependency", jar) if jar else None
    if location_path.startswith("jdt://"):
        jar = _jar_of(build, location_path)
        return ("dependency", jar) if jar else None
    return None


def _jar_of(build, uri: str) -> str | None:
    """`JAR/package/path/Class.class` when `uri` points into a jar of the classpath, else None.

    JDT.LS writes `jdt://contents/JARNAME/PACKAGE.DOTTED/Class.java?=PROJECT/%5C/usr%5C/share%5C/java%5C/x.jar%3C...`:
    the jar's path follows `?=`, its slashes escaped with a backslash.
    """
    text = unquote(uri).replace("\\/", "/")
    by_path = {}
    for jar in build.classpath:
        by_path[str(jar)] = jar
        by_path[str(pathlib.Path(jar).resolve())] = jar
    for path in re.findall(r"(/[^\s?=&<>\"`]+?\.jar)", text):
        jar = by_path.get(path) or by_path.get(str(pathlib.Path(path).resolve()))
        if jar is None:
            continue
        if text.startswith("jdt://contents/"):
            parts = text[len("jdt://contents/") :].split("?", 1)[0].split("/")
            if len(parts) == 3:
                package, name = parts[1], parts[2].rsplit(".", 1)[0]
                return f"{jar.name}/{package.replace('.', '/')}/{name}.class"
        return jar.name
    return None


# -- choosing ----------------------------------------------------------------------


def candidates_of(build, limits: Limits = Limits()) -> list[tuple[pathlib.Path, str, Candidate]]:
    """Every candidate of the project's Java files whose rest of method is short enough, in a fixed order."""
    pool: list[tuple[pathlib.Path, str, Candidate]] = []
    for path in build.java_files():
        try:
            text = path.read_bytes().decode("utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # offsets count characters of UTF-8 text: other files are not used
        for cand in candidates(text):
            if text[cand.dot + 1 : cand.end].count("\n") < limits.max_truth_lines:
                pool.append((path, text, cand))
    return pool


def select(build, session, limits: Limits = Limits(), progress=None, pool=None, stats: dict | None = None) -> list[Prompt]:
    """Prompts for one project: shuffled candidates, kept when JDT.LS places the name in another file or a jar.

    The shuffle is seeded by `SOURCE=VERSION`; at most `limits.max_queries`
    definition queries (a failed query is asked once more), at most
    `per_package` prompts and `per_function` per method.
    """
    pool = list(candidates_of(build, limits) if pool is None else pool)
    random.Random(f"{build.spec}").shuffle(pool)
    chosen: list[Prompt] = []
    per_function: dict[tuple[str, str], int] = {}
    queries = failed = same_or_jdk = 0
    for path, text, cand in pool:
        if len(chosen) >= limits.per_package or queries >= limits.max_queries:
            break
        key = (str(path), f"{cand.function}@{cand.start}")
        if per_function.get(key, 0) >= limits.per_function:
            continue
        queries += 1
        if progress is not None:
            progress.update(1)
        found = session.definition(path, text, cand.dot + 1)
        if found is None:  # the query failed (not: no answer): once more
            found = session.definition(path, text, cand.dot + 1)
        if not found:
            failed += found is None
            continue
        where = definition_kind(build, found[0].path, path)
        if where is None:
            same_or_jdk += 1
            continue
        per_function[key] = per_function.get(key, 0) + 1
        chosen.append(make_prompt(build, path, text, cand, where, language="java"))
    if stats is not None:
        stats.update(queries=queries, failed_queries=failed, same_file_or_jdk=same_or_jdk)
    return chosen


