"""CR, the compilation rate's Python form: basedpyright finds no error the original file did not have.

Each variant of a file is written beside the original under a private name
(same package, so relative imports still resolve) and checked in one
basedpyright run with the package's own venv; errors are compared as
(rule, message) multisets, since line numbers move when a body changes.
"""

from __future__ import annotations

import ast
import json
import os
import pathlib
import shutil
import subprocess
import sysconfig
import uuid
from collections import Counter

from mgd.pragmaticcode.errors import CheckerUnavailable
from mgd.pragmaticcode.python.fetch import CHECK_PREFIX, PackageBuild

Diagnostic = tuple[str, str]  # (rule, message)


def find_basedpyright() -> str:
    """Path of the basedpyright executable: beside this Python, else on PATH."""
    beside = os.path.join(sysconfig.get_path("scripts"), "basedpyright")
    found = beside if os.path.exists(beside) else shutil.which("basedpyright")
    if not found:
        raise CheckerUnavailable("basedpyright is not installed (pip install basedpyright)")
    return found


def type_errors(build: PackageBuild, file: str, texts: list[str], timeout: float = 300.0) -> list[list[Diagnostic] | None]:
    """The type errors of each text as if it were `file` of the package; None for a text that does not parse."""
    original = build.root / file
    results: list[list[Diagnostic] | None] = [None] * len(texts)
    written: dict[pathlib.Path, int] = {}
    tag = uuid.uuid4().hex[:8]
    try:
        for i, text in enumerate(texts):
            try:
                ast.parse(text)
            except (SyntaxError, ValueError):
                continue  # a syntax error fails CR without asking the checker
            variant = original.with_name(f"{CHECK_PREFIX}{tag}_{i}_{original.name}")
            variant.write_text(text, encoding="utf-8")
            written[variant.resolve()] = i
        if written:
            for path, diagnostics in _run(build, list(written), timeout).items():
                results[written[path]] = [(rule, msg.replace(path.stem, original.stem)) for rule, msg in diagnostics]
            for i in written.values():
                if results[i] is None:
                    results[i] = []
    finally:
        for path in written:
            path.unlink(missing_ok=True)
    return results


def _run(build: PackageBuild, files: list[pathlib.Path], timeout: float) -> dict[pathlib.Path, list[Diagnostic]]:
    command = [find_basedpyright(), "--outputjson", "-p", str(build.pyright_config), *map(str, files)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=build.root)
    except subprocess.TimeoutExpired:
        raise CheckerUnavailable(f"basedpyright gave no result in {timeout:.0f} s") from None
    try:
        report = json.loads(done.stdout)
    except ValueError:
        raise CheckerUnavailable(f"basedpyright failed: {(done.stderr or done.stdout).strip()[:200]}") from None
    found: dict[pathlib.Path, list[Diagnostic]] = {path: [] for path in files}
    for item in report.get("generalDiagnostics", []):
        path = pathlib.Path(item.get("file", "")).resolve()
        if item.get("severity") == "error" and path in found:
            found[path].append((item.get("rule", "syntax"), item.get("message", "")))
    return found


def new_errors(original: list[Diagnostic], candidate: list[Diagnostic] | None) -> list[Diagnostic] | None:
    """Errors of `candidate` beyond those `original` already had (None: the candidate does not parse)."""
    if candidate is None:
        return None
    return sorted((Counter(candidate) - Counter(original)).elements())


def compiles(original: list[Diagnostic], candidate: list[Diagnostic] | None) -> bool:
    """CR for one sample: it parses and adds no type error."""
    extra = new_errors(original, candidate)
    return extra is not None and not extra
