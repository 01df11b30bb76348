"""What `mgd pragmaticcode eval` needs for Java prompts: the project, its server, its compile check.

Prompts of our own Java dataset name a Debian source package; its source
is fetched and its dependencies installed as Debian jars (`java_debian`).
Prompts read from the paper's DotPrompts CSV name a GitHub repository that
the user holds in a folder of `owner/name` sub-folders (`--repos`); there is
no dependency classpath for those, so the compile check counts only errors
the generated method adds to the ones the original file already has.
"""

from __future__ import annotations

import os
import pathlib
from collections import Counter

from .prompts import Prompt


class RepoMissing(Exception):
    """The repository a prompt names is not in the folder given."""


def repo_build(prompt: Prompt, repos: pathlib.Path):
    """The DotPrompts repository `prompt.package` (`owner/name`) under `repos`, with its source folders."""
    from ..lsp.jdtls import default_source_paths
    from .java_debian import JavaProjectBuild, JavaSpec

    root = repos / prompt.package
    if not root.is_dir():
        raise RepoMissing(f"repository {prompt.package} is not in {repos}")
    roots = [root / p for p in default_source_paths(str(root))]
    return JavaProjectBuild(JavaSpec(prompt.package, prompt.version), root, roots, [])


def java_session(build):
    """A JDT.LS session for a project (started; raises ServerUnavailable)."""
    session = build.language_server(request_timeout=10.0)
    session.start()
    return session


def compile_problems(build, file: str, texts: list[str]) -> list[Counter]:
    """The compiler's error multiset for each text of `file` in the project."""
    from .java_compile import compile_errors

    return compile_errors(build, file, texts)


def new_problems(original: Counter, candidate: Counter) -> list[tuple[str, str]] | None:
    """Errors `candidate` has beyond `original`, as (kind, message); None when one is a syntax error."""
    from .java_compile import new_errors

    return new_errors(original, candidate)


def repos_folder(path: str | os.PathLike | None) -> pathlib.Path | None:
    """The `--repos` folder, checked to exist."""
    from ..errors import InputError

    if path is None:
        return None
    folder = pathlib.Path(path)
    if not folder.is_dir():
        raise InputError(f"--repos {path} is not a folder")
    return folder
