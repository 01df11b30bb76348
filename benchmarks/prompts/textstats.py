"""Word statistics over a text file: prompt material for the guidance benchmark."""

from __future__ import annotations

import pathlib
import re


class WordStats:
    """Counts words in one document."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self.text = path.read_text(encoding="utf-8")
        self.words = re.findall(r"\w+", self.text.lower())

    def top(self, n: int) -> list[str]:
        """The `n` most frequent words."""
        counts: dict[str, int] = {}
        for word in self.words:
            counts[word] = counts.get(word, 0) + 1
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])
        return [w for w, _ in ranked[:n]]

    def title(self) -> str:
        """The first line, stripped."""
        first = self.text.splitlines()[0]
        return first.strip().title()

    def suffix(self) -> str:
        """The file's extension."""
        return self.path.suffix
