"""Choosing prompts: dots in function bodies whose next name is defined in another file.

Candidates come from Python's own parser (an attribute access inside a
function's body, the dot directly followed by the name); whether the name is
non-local is asked of the language server, as the paper did, with a
`textDocument/definition` at the name.
"""

from __future__ import annotations

import ast
import pathlib
import random
from dataclasses import dataclass
from typing import Iterator

from mgd.pragmaticcode.dataset import Limits
from mgd.pragmaticcode.prompts import Prompt, make_prompt
from mgd.pragmaticcode.python.fetch import PackageBuild

@dataclass(frozen=True)
class Candidate:
    """A dot in a function body, before asking where its name is defined."""

    function: str
    start: int
    end: int
    indent: int
    dot: int
    name: str


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    return starts


class _Offsets:
    """ast gives 1-based lines and UTF-8 byte columns; prompts use str offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = _line_starts(text)
        self.lines = text.split("\n")

    def at(self, line: int, byte_col: int) -> int:
        raw = self.lines[line - 1].encode("utf-8")[:byte_col]
        return self.starts[line - 1] + len(raw.decode("utf-8", errors="ignore"))

    def line_end(self, line: int) -> int:
        return self.starts[line - 1] + len(self.lines[line - 1])


def candidates(text: str) -> Iterator[Candidate]:
    """Every attribute access in a function body whose dot is directly followed by the name."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return
    offsets = _Offsets(text)

    def visit(node: ast.AST, scope: list[str], function: tuple | None) -> Iterator[Candidate]:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner = [*scope, node.name]
            start = offsets.starts[node.lineno - 1]
            here = (".".join(inner), start, offsets.line_end(node.end_lineno), offsets.at(node.lineno, node.col_offset) - start)
            for statement in node.body:  # not the decorators, defaults or annotations
                yield from visit(statement, inner, here)
            return
        if isinstance(node, ast.ClassDef):
            for statement in node.body:  # a class body is not a function body, but holds methods
                yield from visit(statement, [*scope, node.name], None)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (function is None and not isinstance(node, ast.Module)):
            return
        if isinstance(node, ast.Attribute):
            dot = _dot_of(node, offsets)
            if dot is not None:
                yield Candidate(*function, dot, node.attr)
        for child in ast.iter_child_nodes(node):
            yield from visit(child, scope, function)

    yield from visit(tree, [], None)


def _dot_of(node: ast.Attribute, offsets: _Offsets) -> int | None:
    name_end = offsets.at(node.end_lineno, node.end_col_offset)
    name_start = name_end - len(node.attr)
    if name_start < 1 or offsets.text[name_start:name_end] != node.attr or offsets.text[name_start - 1] != ".":
        return None  # whitespace or a line break between the dot and the name
    return name_start - 1


def _definition_kind(build: PackageBuild, path: str, current: pathlib.Path) -> tuple[str, str] | None:
    """('project' | 'dependency', relative file) for a definition outside `current`, else None."""
    where = pathlib.Path(path).resolve()
    if where == current.resolve():
        return None
    for root, kind in ((build.source_root, "project"), (build.python.parent.parent, "dependency")):
        try:
            relative = where.relative_to(root.resolve())
        except ValueError:
            continue
        if kind == "dependency":
            parts = relative.parts
            # Only installed packages count: not the interpreter's standard library, nor
            # the typeshed stubs that jedi carries when it is installed in the same place.
            if "site-packages" not in parts or "typeshed" in parts:
                return None
            relative = pathlib.Path(*parts[parts.index("site-packages") + 1 :])
        return kind, relative.as_posix()
    return None  # the standard library or jedi's typeshed: not the package's global context


def select(build: PackageBuild, session, limits: Limits = Limits(), progress=None) -> list[Prompt]:
    """Prompts for one package: shuffled candidates, kept when the language server places the name in another file."""
    pool: list[tuple[pathlib.Path, str, Candidate]] = []
    for path in build.module_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for cand in candidates(text):
            truth = text[cand.dot + 1 : cand.end]
            if truth.count("\n") < limits.max_truth_lines:
                pool.append((path, text, cand))
    random.Random(f"{build.spec}").shuffle(pool)
    chosen: list[Prompt] = []
    per_function: dict[tuple[str, str], int] = {}
    queries = 0
    for path, text, cand in pool:
        if len(chosen) >= limits.per_package or queries >= limits.max_queries:
            break
        key = (str(path), cand.function)
        if per_function.get(key, 0) >= limits.per_function:
            continue
        queries += 1
        if progress is not None:
            progress.update(1)
        found = session.definition(path, text, cand.dot + 1)
        if not found:
            continue
        where = _definition_kind(build, found[0].path, path)
        if where is None:
            continue
        per_function[key] = per_function.get(key, 0) + 1
        chosen.append(make_prompt(build, path, text, cand, where))
    return chosen


