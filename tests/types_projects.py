"""The small projects the `types` tests write: a Java depot (Shelf, Crate and its Builder) and a Python one (Bay, Crate)."""

from __future__ import annotations

import pathlib

CRATE = """package org.depot;

public class Crate {
    private final int weight;

    public Crate(int weight) { this.weight = weight; }

    public int weight() { return weight; }

    public static Builder builder() { return new Builder(); }

    public static class Builder {
        private int weight;

        public Builder weight(int weight) { this.weight = weight; return this; }

        public Crate build() { return new Crate(weight); }
    }
}
"""

SHELF = """package org.depot;

import java.util.ArrayList;
import java.util.List;

public class Shelf {
    public int capacity;
    private final List<Crate> crates = new ArrayList<>();

    public int totalUnits() { return crates.size(); }

    public void stackCrate(Crate crate) { crates.add(crate); }

    public Crate heaviestCrate() { return crates.get(0); }

    public boolean isFull() { return crates.size() >= capacity; }

    public String label() { return "shelf"; }

    public long totalWeight() { return 0L; }

    public <T> T pick(Class<T> kind) { return null; }
}
"""

LABELS = """package org.depot;

public class Labels {
    public static final String KIND = "kind";
    public static final Crate SPARE = new Crate(1);

    public void tag(Crate crate) {}

    public void tag(String key, String value) {}

    public void note(String text) {}

    public void note(String text, Throwable cause) {}

    public void count(String key, Object... values) {}

    public void count(Crate crate) {}
}
"""

SIZE = """package org.depot;

public enum Size { SMALL, LARGE }
"""

BAY = '''from typing import Optional, Protocol


class Weighed(Protocol):
    weight: int


class Crate:
    def __init__(self, weight: int) -> None:
        self.weight = weight


class Bay:
    capacity: int = 3

    def __init__(self) -> None:
        self.crates: list[Crate] = []
        self.spare: Optional[Crate] = None
        self.dock_: "Crate | None" = None

    def is_full(self) -> bool:
        return len(self.crates) >= self.capacity

    def count(self) -> int:
        return len(self.crates)

    def stack(self, crate: Crate) -> None:
        self.crates.append(crate)

    def resize(self, size: tuple[int, int], weight: float = 1.0) -> None:
        self.capacity = size[0] * size[1]

    def heaviest(self) -> Optional[Crate]:
        return max(self.crates, key=lambda c: c.weight, default=None)

    def first(self) -> Crate:
        return self.crates[0]

    def label(self):
        return "bay"

    def tag(self, name: str, *, loud: bool = False) -> None:
        self.name = name.upper() if loud else name
'''


def java_depot(tmp_path_factory) -> pathlib.Path:
    """A Maven-shaped Java project with `org.depot.Crate` and `org.depot.Shelf`."""
    root = tmp_path_factory.mktemp("repos") / "depot"
    package = root / "src/main/java/org/depot"
    package.mkdir(parents=True)
    (package / "Crate.java").write_text(CRATE)
    (package / "Shelf.java").write_text(SHELF)
    (package / "Labels.java").write_text(LABELS)
    (package / "Size.java").write_text(SIZE)
    return root


def python_depot(tmp_path_factory) -> pathlib.Path:
    """A Python project with the package `depot` and its module `bay`."""
    root = tmp_path_factory.mktemp("repos") / "pydepot"
    (root / "depot").mkdir(parents=True)
    (root / "depot" / "__init__.py").write_text("")
    (root / "depot" / "bay.py").write_text(BAY)
    # a name the project declares twice, once as a protocol, that the standard library declares too
    (root / "depot" / "ledger.py").write_text("from typing import Protocol\n\n\nclass Decimal(Protocol):\n    def __float__(self) -> float: ...\n")
    (root / "depot" / "money.py").write_text("class Decimal:\n    pass\n")
    return root
