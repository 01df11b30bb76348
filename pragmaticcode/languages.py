"""The registry of evaluation languages: how to fetch a prompt's project, start its server and check CR.

A language's evaluation is a sub-package (`python/`, `java/`) with the same
modules for the same jobs (`fetch`, `select`, `build`, `lexer`, `check`) plus
one `EvalLanguage` entry here; the evaluate loop (`evaluate.py`) only calls
these entries, never a language's modules directly.
"""

from __future__ import annotations

import pathlib
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from mgd.pragmaticcode.java import check as java_check
from mgd.pragmaticcode.java import dotprompts
from mgd.pragmaticcode.java import fetch as java_fetch
from mgd.pragmaticcode.prompts import Prompt
from mgd.pragmaticcode.python import check as python_check
from mgd.pragmaticcode.python import fetch as python_fetch


@dataclass(frozen=True)
class EvalLanguage:
    """What the evaluate loop needs of one language."""

    name: str
    # (prompt, work folder, --repos folder or None) -> the fetched project (raises FetchError and the like)
    fetch: Callable[[Prompt, pathlib.Path, pathlib.Path | None], Any]
    # project -> its language-server session, not started yet
    language_server: Callable[[Any], Any]
    # (project, file, texts) -> each text's problems (the checker's own multiset), None where it could not tell
    problems: Callable[[Any, str, list[str]], list]
    # (original's problems, candidate's problems) -> the new ones as (rule, message), None for a syntax error
    new_problems: Callable[[Any, Any], list | None]
    # the problems of a file that has none
    no_problems: Callable[[], Any]


def _fetch_python(prompt: Prompt, work: pathlib.Path, repos: pathlib.Path | None):
    return python_fetch.fetch(python_fetch.PackageSpec(prompt.package, prompt.version), work)


def _fetch_java(prompt: Prompt, work: pathlib.Path, repos: pathlib.Path | None):
    if repos is not None:  # the paper's DotPrompts: repositories the user holds
        return dotprompts.repo_build(prompt, repos)
    return java_fetch.fetch_java(prompt.package, prompt.version, work)


EVAL_LANGUAGES: dict[str, EvalLanguage] = {  # fmt: skip
    "python": EvalLanguage(
        "python", _fetch_python, lambda build: build.language_server(), python_check.type_errors,
        python_check.new_errors, list,
    ),
    "java": EvalLanguage(
        "java", _fetch_java, lambda build: build.language_server(request_timeout=10.0), java_check.compile_errors,
        java_check.new_errors, Counter,
    ),
}


def eval_language(name: str) -> EvalLanguage:
    """The evaluation entry of language `name` (KeyError for a language evaluation does not know)."""
    return EVAL_LANGUAGES[name]
