"""Reading the MGD paper's own DotPrompts `dataset.csv` into Java prompt records.

The paper's prompt set is a CSV with one row per prompt: `repo` (GitHub `owner/name`),
`classFileName` (path inside the repository), `methodStartIdx`, `methodStopIdx` and
`dot_idx`. The repositories themselves are not distributed with it; a user who holds them
points the evaluation at a folder with one sub-folder per `owner/name`, and this module
turns every row whose file is there into a record of the Java prompt schema.

What the offsets mean, as established from the public implementation
(microsoft/monitors4codegen; `README.md` read at commit 127db36, the evaluation scripts at
commit 4bdc9e4):

- `README.md` (section "Description of inference results csv file format") calls all
  three values *string indices*: `methodStartIdx` is the index of the method body's
  opening `{` (not of the declaration), `methodStopIdx` the index of its closing `}`,
  `dot_idx` the index of the `.` the prompt ends with.
- `evaluation_scripts/eval_results.py` (`evaluate_generation`) indexes Python strings
  loaded from a JSON dump of the files (`fileContentsByRepo.json`): it asserts that the
  character at `dot_idx` is a `.`, takes the prompt as the text up to and including that
  dot, and the ground truth as the text from just after the dot up to and including the
  character at `methodStopIdx`, so the stop index is inclusive of the closing brace. When
  it cuts a generation at the method's end it restarts brace counting from the character
  after `methodStartIdx`, which it replaces by a literal `{` (so that index is the brace).
- `evaluation_scripts/eval_utils.py` (`get_identifiers`) counts as identifiers the tokens
  that pygments' Java lexer calls names, plus the keyword `class`.

So the offsets count characters (code points) of the decoded file, not bytes. The JSON
dump is not public, so how its authors read the files (newline translation, a byte-order
mark) cannot be checked; this module therefore reads a file's bytes exactly as our
evaluation does (`bytes.decode("utf-8")`, no newline translation) and, when the three
characters are not `{`, `}` and `.` there, also tries the same text with universal newlines,
without a byte-order mark, and (last) as UTF-8 byte offsets, converting the offsets back to
the raw text when one of those fits. Rows that fit no reading are reported as bad.

Conversions to our schema (see `prompts.py`): `dot_offset` = `dot_idx` (converted as
above); `function.end` = `methodStopIdx + 1` (just after the `}`, exclusive like a Python
slice); `function.start` = the offset of the declaration's first modifier or annotation
(the CSV's own start is the body's `{`), `function.indent` = its column; `function.name` =
the identifier before the parameter list that precedes the body's `{` (skipping a `throws`
clause), or `?` (then the start is the `{` line's first non-blank character).

Identifiers (`ground_truth_identifiers`, `next_identifier`) come from the metrics' Java
lexer, `mgd.pragmaticcode.java.lexer`: it skips whitespace, `//` and `/* */` comments, string literals, text blocks, char
literals and numbers, and drops Java's keywords and the literals `true`, `false`, `null`
(unlike the paper's pygments-based list it also drops `class`). `next_identifier` is the identifier right after the dot
(whitespace and comments skipped); when a keyword or `<` follows instead (`Outer.this.x`,
`Foo.class.getName()`, `obj.<T>m()`) it is the first identifier after the dot. `version` is
the `commit_id` of `repos.csv`, whose `git describe`-style leading `g` is dropped.

Ids are `repo:classFileName:dot_idx`. In the real CSV 83 such keys occur more than once
(the same dot inside an anonymous class's method and the method around it, each row with
its own ground truth); every row of such a group gets `@methodStartIdx` appended so ids
stay unique.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import os
import pathlib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from mgd.errors import InputError
from mgd.monitors.java.lexer import KEYWORDS
from mgd.pragmaticcode.errors import FetchError
from mgd.pragmaticcode.java.lexer import Token, identifiers, spans
from mgd.pragmaticcode.prompts import Prompt

COLUMNS = ("repo", "classFileName", "methodStartIdx", "methodStopIdx", "dot_idx")
OFFSET_COLUMNS = ("methodStartIdx", "methodStopIdx", "dot_idx")
REPOS_CSV = "repos.csv"

_INDENT = re.compile(r"[ \t\f]*")


class DotRow(NamedTuple):
    """One checked row of `dataset.csv`; `line` is its line number in the file."""

    line: int
    repo: str
    file: str
    start: int
    stop: int
    dot: int


@dataclass
class DotPromptsLoad:
    """What `read_dotprompts` found: the records, rows whose repository or file is absent, bad rows."""

    prompts: list[dict] = field(default_factory=list)
    missing: Counter = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)


def validate_csv(csv_path: str | os.PathLike) -> list[DotRow]:
    """Check `dataset.csv` and return its rows; raise InputError naming the file and line."""
    path = pathlib.Path(csv_path)
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InputError(f"DotPrompts file {path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"DotPrompts file {path} is a directory") from None
    rows: list[DotRow] = []
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path}:1: empty file, expected the header {','.join(COLUMNS)}")
            header = [name.strip() for name in header]
            missing = [name for name in COLUMNS if name not in header]
            extra = [name for name in header if name not in COLUMNS]
            if missing or extra or len(header) != len(COLUMNS):
                problems = []
                if missing:
                    problems.append("missing column(s) " + ", ".join(missing))
                if extra:
                    problems.append("unexpected column(s) " + ", ".join(repr(name) for name in extra))
                if not problems:
                    problems.append("a column appears twice")
                raise InputError(f"{path}:1: {'; '.join(problems)} (expected {','.join(COLUMNS)})")
            where = {name: header.index(name) for name in COLUMNS}
            last = reader.line_num
            for values in reader:
                line, last = last + 1, reader.line_num
                if not values or all(not value.strip() for value in values):
                    continue
                if len(values) != len(COLUMNS):
                    raise InputError(f"{path}:{line}: expected {len(COLUMNS)} fields, found {len(values)}")
                repo, file = values[where["repo"]].strip(), values[where["classFileName"]].strip()
                if repo.count("/") != 1 or not all(repo.split("/")):
                    raise InputError(f"{path}:{line}: repo {repo!r} is not of the form owner/name")
                if not file:
                    raise InputError(f"{path}:{line}: classFileName is empty")
                offsets = []
                for name in OFFSET_COLUMNS:
                    value = values[where[name]].strip()
                    if not re.fullmatch(r"[0-9]+", value):
                        raise InputError(f"{path}:{line}: {name} {value!r} is not a non-negative integer")
                    offsets.append(int(value))
                start, stop, dot = offsets
                if start > stop:
                    raise InputError(f"{path}:{line}: methodStartIdx {start} is after methodStopIdx {stop}")
                rows.append(DotRow(line, repo, file, start, stop, dot))
        except csv.Error as err:
            raise InputError(f"{path}:{reader.line_num}: not valid CSV ({err})") from None
        except UnicodeDecodeError as err:
            raise InputError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    return rows


def read_repos_csv(path: str | os.PathLike) -> dict[str, str]:
    """`repos.csv` as repo -> commit; a `git describe`-style `g` before the hash is dropped."""
    path = pathlib.Path(path)
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except (FileNotFoundError, IsADirectoryError):
        raise InputError(f"repositories file {path} does not exist") from None
    commits: dict[str, str] = {}
    with handle:
        reader = csv.DictReader(handle)
        try:
            names = [name.strip() for name in reader.fieldnames or []]
            if "repo" not in names or "commit_id" not in names:
                raise InputError(f"{path}:1: expected the columns repo and commit_id")
            reader.fieldnames = names
            for record in reader:
                repo, commit = (record.get("repo") or "").strip(), (record.get("commit_id") or "").strip()
                if re.fullmatch(r"g[0-9a-fA-F]{7,40}", commit):
                    commit = commit[1:]  # hex never holds a `g`: it is git describe's marker
                if repo:
                    commits[repo] = commit
        except csv.Error as err:
            raise InputError(f"{path}:{reader.line_num}: not valid CSV ({err})") from None
        except UnicodeDecodeError as err:
            raise InputError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    return commits


class _View(NamedTuple):
    """A reading of a file's text in which the CSV's offsets may count, and the way back to raw offsets."""

    name: str
    text: str | bytes
    to_raw: Callable[[int], int]  # view offset -> raw str offset


class _File:
    """One Java file as found: bytes, raw text, its tokens and the alternative readings, built lazily."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.text = data.decode("utf-8")
        self._tokens: list[Token] | None = None
        self._starts: list[int] | None = None
        self._views: list[_View] | None = None

    @property
    def tokens(self) -> list[Token]:
        if self._tokens is None:
            self._tokens = spans(self.text)
            self._starts = [token.start for token in self._tokens]
        return self._tokens

    def token_at(self, offset: int) -> int | None:
        """Index of the token starting at `offset`, or None."""
        tokens = self.tokens
        i = bisect.bisect_left(self._starts, offset)
        return i if i < len(tokens) and tokens[i].start == offset else None

    def views(self) -> list[_View]:
        if self._views is None:
            text = self.text
            views = [_View("raw", text, lambda i: i)]
            bom = 1 if text.startswith("\ufeff") else 0
            if "\r" in text:
                raw_of: list[int] = []
                i = 0
                while i < len(text):
                    raw_of.append(i)
                    i += 2 if text.startswith("\r\n", i) else 1
                raw_of.append(len(text))
                normal = text.replace("\r\n", "\n").replace("\r", "\n")
                views.append(_View("universal newlines", normal, raw_of.__getitem__))
                if bom:
                    views.append(_View("universal newlines, no BOM", normal[1:], lambda i: raw_of[i + 1]))
            if bom:
                views.append(_View("no BOM", text[1:], lambda i: i + 1))
            if len(self.data) != len(text):
                data = self.data
                views.append(_View("UTF-8 bytes", data, lambda i: len(data[:i].decode("utf-8", errors="replace"))))
            self._views = views
        return self._views


def _char(view: _View, offset: int) -> str:
    if offset >= len(view.text):
        return ""
    value = view.text[offset]
    return chr(value) if isinstance(value, int) else value


def _locate(source: _File, row: DotRow) -> tuple[int, int, int] | str:
    """Raw (start, stop, dot) for the row, or the reason it fits no reading of the file."""
    for view in source.views():
        if _char(view, row.start) == "{" and _char(view, row.stop) == "}" and _char(view, row.dot) == ".":
            return view.to_raw(row.start), view.to_raw(row.stop), view.to_raw(row.dot)
    text = source.text
    for name, offset in (("methodStartIdx", row.start), ("methodStopIdx", row.stop), ("dot_idx", row.dot)):
        if offset >= len(text):
            return f"{name} {offset} is out of range (the file has {len(text)} characters)"
    if text[row.dot] != ".":
        return f"dot_idx {row.dot} is {text[row.dot]!r}, not a '.'"
    if text[row.start] != "{":
        return f"methodStartIdx {row.start} is {text[row.start]!r}, not the method's '{{'"
    return f"methodStopIdx {row.stop} is {text[row.stop]!r}, not the method's '}}'"


_THROWS_PARTS = frozenset(".,<>?&[]@")
_MEMBER_ENDS = frozenset(";{}")


def _declaration(source: _File, brace: int) -> tuple[str, int, int]:
    """The method's name, where its declaration starts and that start's column, for the body `{` at `brace`.

    The declaration starts at its first modifier or annotation (comments before it left out),
    found by walking back from the name to the `;`, `{` or `}` that ends what comes before.
    Without a name (a lambda's or an initializer's block) it starts at the `{` line's first character.
    """
    text, tokens = source.text, source.tokens
    i = source.token_at(brace)
    name, begin = "?", None

    def word(k: int) -> str:
        return text[tokens[k].start : tokens[k].end] if k >= 0 and tokens[k].kind == "name" else ""

    def op(k: int) -> str:
        return text[tokens[k].start] if k >= 0 and tokens[k].kind == "operator" else ""

    def opening(k: int, close: str, open_: str) -> int:
        """Index of the bracket matching the `close` at `k` (or -1)."""
        depth = 0
        while k >= 0:
            depth += {open_: -1, close: 1}.get(op(k), 0)
            if depth == 0:
                return k
            k -= 1
        return -1

    if i is not None:
        j = k = i - 1
        while k >= 0 and ((word(k) and word(k) != "throws") or op(k) in _THROWS_PARTS):
            k -= 1
        if word(k) == "throws":
            j = k - 1
        at = None
        if op(j) == ")":
            j = opening(j, ")", "(")
            if word(j - 1) and word(j - 1) not in KEYWORDS:
                at = j - 1
        elif word(j) and word(j) not in KEYWORDS:  # a record's compact constructor: `Point {`
            at = j
        if at is not None:
            name = word(at)
            k = at - 1
            while k >= 0 and op(k) not in _MEMBER_ENDS:
                k = opening(k, ")", "(") - 1 if op(k) == ")" else k - 1  # an annotation's arguments
            begin = tokens[max(k, -1) + 1].start
    if begin is None:
        line = max(text.rfind("\n", 0, brace), text.rfind("\r", 0, brace)) + 1
        begin = _INDENT.match(text, line).end()
    line = max(text.rfind("\n", 0, begin), text.rfind("\r", 0, begin)) + 1
    return name, begin, begin - line


def _next_identifier(text: str, dot: int, end: int, truth: list[str]) -> str:
    """The identifier right after the dot (whitespace and comments skipped), else the first one after it."""
    for token in spans(text, dot + 1, end):
        word = text[token.start : token.end]
        if token.kind == "name" and word not in KEYWORDS:
            return word
        break
    return truth[0] if truth else ""


def _ids(rows: list[DotRow]) -> list[str]:
    keys = [f"{row.repo}:{row.file}:{row.dot}" for row in rows]
    counts = Counter(keys)
    return [key if counts[key] == 1 else f"{key}@{row.start}" for key, row in zip(keys, rows)]


def read_dotprompts(
    csv_path: str | os.PathLike, repos_dir: str | os.PathLike, *, repos_csv: str | os.PathLike | None = None
) -> DotPromptsLoad:
    """Turn the rows of `dataset.csv` whose files exist under `repos_dir/owner/name/` into prompt records.

    Rows whose repository folder or file is absent are counted per repository in `missing`;
    rows that do not fit their file are listed with the reason in `bad`. Raise InputError
    for a malformed CSV or a `repos_dir` that is not a folder.
    """
    csv_path = pathlib.Path(csv_path)
    rows = validate_csv(csv_path)
    root = pathlib.Path(repos_dir)
    if not root.is_dir():
        raise InputError(f"repositories folder {root} does not exist or is not a folder")
    if repos_csv is None:
        beside = csv_path.with_name(REPOS_CSV)
        commits = read_repos_csv(beside) if beside.is_file() else {}
    else:
        commits = read_repos_csv(repos_csv)
    load = DotPromptsLoad()
    files: dict[tuple[str, str], _File | str | None] = {}
    for row, prompt_id in zip(rows, _ids(rows)):
        where = f"{csv_path}:{row.line}: {row.repo} {row.file}"
        key = (row.repo, row.file)
        if key not in files:
            files[key] = _open(root, row.repo, row.file)
        source = files[key]
        if source is None:
            load.missing[row.repo] += 1
            continue
        if isinstance(source, str):
            load.bad.append(f"{where}: {source}")
            continue
        if not row.start <= row.dot <= row.stop:
            load.bad.append(f"{where}: dot_idx {row.dot} lies outside the method ({row.start}..{row.stop})")
            continue
        located = _locate(source, row)
        if isinstance(located, str):
            load.bad.append(f"{where}: {located}")
            continue
        start, stop, dot = located
        text = source.text
        name, begin, indent = _declaration(source, start)
        end = stop + 1
        truth = identifiers(text[dot + 1 : end])
        following = _next_identifier(text, dot, end, truth)
        if not following:
            load.bad.append(f"{where}: no identifier follows the dot at {row.dot}")
            continue
        load.prompts.append(
            {
                "id": prompt_id,
                "package": row.repo,
                "version": commits.get(row.repo, ""),
                "file": row.file,
                "file_sha256": source.sha256,
                "function": {"name": name, "start": begin, "end": end, "indent": indent},
                "dot_offset": dot,
                "next_identifier": following,
                "ground_truth_identifiers": truth,
                "definition": {"file": "", "kind": "unknown"},
                "language": "java",
            }
        )
    return load


def _open(root: pathlib.Path, repo: str, file: str) -> _File | str | None:
    """The file as found, None when its repository folder or the file is absent, or a reason it is unusable."""
    folder = root / repo
    if not folder.is_dir():
        return None
    parts = pathlib.PurePosixPath(file.replace("\\", "/")).parts
    if not parts or parts[0] == "/" or ".." in parts:
        return f"classFileName {file!r} leaves the repository"
    path = folder.joinpath(*parts)
    if not path.is_file():
        return None
    try:
        return _File(path.read_bytes())
    except UnicodeDecodeError as err:
        return f"the file is not UTF-8 ({err.reason} at byte {err.start})"
    except OSError as err:
        return f"the file cannot be read ({err.strerror or err})"


def dotprompts_summary(load: DotPromptsLoad) -> str:
    """One line: how many prompts from how many repositories, rows missing repositories, bad rows."""
    repos = len({prompt["package"] for prompt in load.prompts})
    missing = sum(load.missing.values())
    return (
        f"{len(load.prompts)} prompts from {repos} repositories, "
        f"{missing} rows missing repositories or files ({len(load.missing)} repositories), "
        f"{len(load.bad)} bad rows"
    )


class RepoMissing(FetchError):
    """The repository a prompt names is not in the folder given."""


def repo_build(prompt: Prompt, repos: pathlib.Path):
    """The DotPrompts repository `prompt.package` (`owner/name`) under `repos`, as its Maven or Gradle build
    describes it (`mgd.lsp.project.read_project`: source folders of every module, jars found offline, Java level)."""
    from mgd.lsp.project import read_project
    from mgd.pragmaticcode.java.project import JavaProjectBuild, JavaSpec

    root = repos / prompt.package
    if not root.is_dir():
        raise RepoMissing(f"repository {prompt.package} is not in {repos}")
    model = read_project(root, "java")
    # Test roots too: one build serves every prompt of the repository, some of which may sit in tests; main
    # code names no test type, so the check of a main file is the same with them after the main roots.
    return JavaProjectBuild.from_model(JavaSpec(prompt.package, prompt.version), model, tests=True)


def repos_folder(path: str | os.PathLike | None) -> pathlib.Path | None:
    """The `--repos` folder, checked to exist."""
    if path is None:
        return None
    folder = pathlib.Path(path)
    if not folder.is_dir():
        raise InputError(f"--repos {path} is not a folder")
    folder = folder.resolve()  # source folders under it are handed to JDT.LS and ECJ, which run elsewhere
    return folder
