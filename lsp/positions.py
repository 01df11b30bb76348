"""Conversions between string offsets and LSP positions (UTF-16 columns)."""

from __future__ import annotations


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def offset_to_position(text: str, offset: int) -> dict:
    """LSP position of character `offset` in `text`."""
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    return {"line": line, "character": _utf16_len(text[start:offset])}


def line_column_to_offset(text: str, line: int, column: int) -> int:
    """Character offset of a 1-based line and column; ValueError if outside `text`."""
    lines = text.split("\n")
    if line < 1 or line > len(lines):
        raise ValueError(f"line {line} is outside the file (it has {len(lines)} lines)")
    width = len(lines[line - 1])
    if column < 1 or column > width + 1:
        raise ValueError(f"column {column} is outside line {line} (it has {width} characters)")
    return sum(len(part) + 1 for part in lines[: line - 1]) + column - 1


def common_prefix_len(a: str, b: str) -> int:
    """Length of the longest common prefix, by bisection on slices (C-speed compares)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def single_edit(old: str, new: str) -> tuple[int, int, str] | None:
    """The one replacement (start, old_end, text) turning `old` into `new`, or None if equal."""
    if old == new:
        return None
    start = common_prefix_len(old, new)
    limit = min(len(old), len(new)) - start
    tail = common_prefix_len(old[::-1][:limit], new[::-1][:limit])
    return start, len(old) - tail, new[start : len(new) - tail]
