"""Server answers kept beyond one generation, and receivers whose members do not depend on the text before them.

A query's answer depends on the text the server sees. Two generations that
ask about the same text of the same document get the same answer, so it is
kept (keyed by the document's path, prefix, suffix and the generated text)
for `KEEP_SECONDS`: files on disk may change under a long-lived process
(`mgd serve`), and an answer older than that is asked again.

Some receivers mean the same wherever the generated text has got to, so one
answer serves every place they come back (`stable_receiver`):

- a qualified name on an import or package line (Java `import java.util.`,
  Python `from zoo.animals.`): what it holds depends on the project and its
  class or module path, never on the lines around it;
- Java `this.` inside the prompt's own method: the enclosing class's fields
  and methods, which statements of a method body cannot add to. A generated
  class body (an anonymous or local class) changes what `this` means, so a
  generation that opened one keys nothing this way.

Python `self.` is not among them: jedi infers attributes from assignments,
so a generated `self.count = 0` adds a member.
"""

from __future__ import annotations

import collections
import re
import time

KEEP_SECONDS = 30.0
MAX_KEPT = 4096

_JAVA_IMPORT = re.compile(r"^\s*(?:import(?:\s+static)?|package)\s+([A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*\s*\.)$")
_PY_IMPORT = re.compile(r"^\s*(?:from|import)\s+(\.*[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*\.)$")
_JAVA_THIS = re.compile(r"(?<![\w$.])this\s*\.$")
# what opens a class body in generated Java: a local type, or `new T(...) {`
_JAVA_CLASS_BODY = re.compile(r"\b(?:class|interface|enum|record)\b|\bnew\b[^;{}]*\)\s*\{")


def stable_receiver(language: str, prefix: str, generated: str) -> tuple | None:
    """A key for the receiver that `prefix + generated` ends at, if its members cannot depend on the text before it."""
    line = (prefix + generated).rsplit("\n", 1)[-1]
    if language == "java":
        found = _JAVA_IMPORT.match(line)
        if found:
            return ("import", re.sub(r"\s+", "", found.group(1)))
        if _JAVA_THIS.search(line) and not _JAVA_CLASS_BODY.search(generated):
            # the body of the prompt's method only: generation that closed it is somewhere else
            depth = 0
            for ch in generated:
                depth += {"{": 1, "}": -1}.get(ch, 0)
                if depth < 0:
                    return None
            return ("this",)
        return None
    found = _PY_IMPORT.match(line)
    return ("import", found.group(1)) if found else None


class KeptAnswers:
    """Answers that outlive a generation, each for `KEEP_SECONDS`, the oldest dropped beyond `MAX_KEPT`."""

    def __init__(self, keep_seconds: float = KEEP_SECONDS, max_kept: int = MAX_KEPT) -> None:
        self.keep_seconds = keep_seconds
        self.max_kept = max_kept
        self._entries: collections.OrderedDict[tuple, tuple[float, object]] = collections.OrderedDict()

    def get(self, key: tuple) -> tuple[bool, object]:
        """(True, the answer) if one is kept for `key` and still fresh, else (False, None)."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        if time.monotonic() - entry[0] > self.keep_seconds:
            del self._entries[key]
            return False, None
        self._entries.move_to_end(key)
        return True, entry[1]

    def put(self, key: tuple, answer: object) -> None:
        """Keep `answer` (a real answer of the server, never a timeout's) for `key`."""
        self._entries[key] = (time.monotonic(), answer)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_kept:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
