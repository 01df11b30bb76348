"""The prompt record: one dereference point in a real package, stored as a JSON line.

Schema (every offset counts Python `str` characters of the file decoded as UTF-8):

- `id`: `package==version:file:dot_offset`, unique in a dataset.
- `package`, `version`: the PyPI release the file comes from.
- `file`: path of the file inside the unpacked source distribution (POSIX separators).
- `file_sha256`: SHA-256 of the file's bytes, so a rebuilt source is checked to be the same.
- `function`: `{"name", "start", "end", "indent"}`, the qualified name of the innermost
  function holding the dot, the offset where its `def` line starts, the offset where its
  last line ends (before the line break), and the column of `def`.
- `dot_offset`: offset of the `.`; the prompt is `text[:dot_offset + 1]`.
- `next_identifier`: the name the original code writes right after the dot.
- `ground_truth_identifiers`: the identifiers of the rest of the function,
  `text[dot_offset + 1 : function.end]`, in order. The text itself is not stored (no code
  of the packages is kept in this repository); evaluation reads it from the fetched source.
- `definition`: `{"file", "kind"}`, where the language server says `next_identifier` is
  defined: `kind` is `project` (another file of the package) or `dependency` (an installed
  package; `file` then is relative to site-packages).
- `language`: `python` (the default when absent) or `java`. For Java, `package` and
  `version` name a Debian source package (or, for the paper's DotPrompts, the GitHub
  repository and commit), `function.start`/`end` span the method from its first modifier
  to just after its closing `}`.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
from dataclasses import asdict, dataclass

from mgd.errors import InputError
from mgd.pragmaticcode.jsonl import parse_object

REQUIRED = {
    "id": str, "package": str, "version": str, "file": str, "file_sha256": str, "function": dict,
    "dot_offset": int, "next_identifier": str, "ground_truth_identifiers": list,
    "definition": dict,
}  # fmt: skip
FUNCTION_KEYS = {"name": str, "start": int, "end": int, "indent": int}
LANGUAGES = ("python", "java")


@dataclass(frozen=True)
class Prompt:
    """One prompt of a PragmaticCode dataset (see the module docstring for the fields)."""

    id: str
    package: str
    version: str
    file: str
    file_sha256: str
    function: dict
    dot_offset: int
    next_identifier: str
    ground_truth_identifiers: list
    definition: dict
    language: str = "python"

    def ground_truth(self, text: str) -> str:
        """The rest of the function in the file's `text`."""
        return text[self.dot_offset + 1 : self.function["end"]]

    def to_json(self) -> str:
        """One JSON line (no line break); `language` is written only when it is not Python."""
        record = asdict(self)
        if self.language == "python":
            del record["language"]
        return json.dumps(record, ensure_ascii=False)


def parse_prompt(line: str, where: str) -> Prompt:
    """Parse and check one JSON line; raise InputError naming `where` and the problem."""
    data = parse_object(line, where, REQUIRED)
    for key, kind in FUNCTION_KEYS.items():
        if not isinstance(data["function"].get(key), kind):
            raise InputError(f"{where}: field 'function.{key}' is missing or has the wrong type")
    if not data["function"]["start"] <= data["dot_offset"] < data["function"]["end"]:
        raise InputError(f"{where}: dot_offset lies outside the function span")
    language = data.get("language", "python")
    if language not in LANGUAGES:
        raise InputError(f"{where}: field 'language' must be one of {', '.join(LANGUAGES)}, not {language!r}")
    return Prompt(**{key: data[key] for key in REQUIRED}, language=language)


def read_prompts(path: str | os.PathLike) -> list[Prompt]:
    """Read a prompts JSONL file; raise InputError on a missing file or a malformed line."""
    try:
        handle = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"prompts file {path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"prompts file {path} is a directory") from None
    prompts, seen = [], set()
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            prompt = parse_prompt(line, f"{path}:{number}")
            if prompt.id in seen:
                raise InputError(f"{path}:{number}: prompt id {prompt.id} appears twice")
            seen.add(prompt.id)
            prompts.append(prompt)
    return prompts


def make_prompt(build, path: pathlib.Path, text: str, cand, where: tuple[str, str], language: str = "python") -> Prompt:
    """The prompt record for a chosen candidate dot (of either language's selection)."""
    from mgd.pragmaticcode.lexers import identifiers  # the lexers' packages import this module

    relative = path.relative_to(build.root).as_posix()
    truth = text[cand.dot + 1 : cand.end]
    return Prompt(
        id=f"{build.spec}:{relative}:{cand.dot}",
        package=build.spec.name,
        version=build.spec.version,
        file=relative,
        file_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        function={"name": cand.function, "start": cand.start, "end": cand.end, "indent": cand.indent},
        dot_offset=cand.dot,
        next_identifier=cand.name,
        ground_truth_identifiers=identifiers(truth, language),
        definition={"kind": where[0], "file": where[1]},
        language=language,
    )
