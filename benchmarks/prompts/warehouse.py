"""Bins, a warehouse and a move log: prompt material for the guidance benchmark."""

from __future__ import annotations

import pathlib
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Bin:
    """One storage bin and the stock-keeping units in it."""

    code: str
    capacity: int
    items: list[str] = field(default_factory=list)

    def free_slots(self) -> int:
        """How many more items fit."""
        return self.capacity - len(self.items)

    def put(self, sku: str) -> bool:
        """Store one item if there is room."""
        if self.free_slots() <= 0:
            return False
        self.items.append(sku)
        return True


class Warehouse:
    """Bins by code, and a count of moves per item."""

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root
        self.bins: dict[str, Bin] = {}
        self.moves: Counter[str] = Counter()

    def add_bin(self, code: str, capacity: int) -> Bin:
        """Create an empty bin."""
        new_bin = Bin(code.upper(), capacity)
        self.bins[new_bin.code] = new_bin
        return new_bin

    def move(self, sku: str, source: Bin, target: Bin) -> None:
        """Move one item between bins and log it."""
        source.items.remove(sku)
        target.put(sku)
        self.moves.update([sku])

    def busiest(self, n: int) -> list[tuple[str, int]]:
        """The items moved most often."""
        return self.moves.most_common(n)

    def save(self) -> None:
        """Write one line per bin under the root directory."""
        lines = [f"{b.code} {b.free_slots()}" for b in self.bins.values()]
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "bins.txt").write_text("\n".join(lines))
