"""Conversions between string offsets and LSP positions.

An LSP position is a line and a character column. Lines end at `\r\n`, `\n`
or `\r` (the protocol's three line breaks). Columns count code units of the
position encoding the client and server agreed on at `initialize`: UTF-16
(the protocol's default; JDT.LS, whose strings are UTF-16), UTF-32 (code
points, what jedi counts) or UTF-8. They differ only past the Basic
Multilingual Plane (`🐧` is two UTF-16 units, one code point) and for UTF-8
past ASCII; combining marks are code points of their own in all three.
"""

from __future__ import annotations

import re

ENCODINGS = ("utf-16", "utf-32", "utf-8")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def encoded_length(text: str, encoding: str = "utf-16") -> int:
    """The length of `text` in code units of a position encoding (`utf-16`, `utf-32` or `utf-8`)."""
    if encoding == "utf-32":
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8", errors="surrogatepass"))
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


def offset_to_position(text: str, offset: int, encoding: str = "utf-16") -> dict:
    """LSP position of character `offset` in `text`, its column in code units of `encoding`."""
    if "\r" not in text[: offset + 1]:  # the usual case, at C speed
        start = text.rfind("\n", 0, offset) + 1
        return {"line": text.count("\n", 0, offset), "character": encoded_length(text[start:offset], encoding)}
    line, start = 0, 0
    for match in _LINE_BREAK.finditer(text, 0, offset + 1):
        if match.end() > offset:  # a break at or around `offset` (`\r|\n`) ends the line `offset` is on
            break
        line, start = line + 1, match.end()
    return {"line": line, "character": encoded_length(text[start:offset], encoding)}


def line_column_to_offset(text: str, line: int, column: int) -> int:
    """Character offset of a 1-based line and column (in characters); ValueError if outside `text`.

    Lines end as in LSP. A file whose last line ends with a line break has as
    many lines as breaks (as `wc -l` and editors count), and the place after
    that break, line count + 1 at column 1, is its end.
    """
    starts = [0] + [match.end() for match in _LINE_BREAK.finditer(text)]
    count = len(starts) - 1 if starts[-1] == len(text) else len(starts)
    if line < 1 or line > len(starts):
        raise ValueError(f"line {line} is outside the file (it has {count} line{'' if count == 1 else 's'})")
    start = starts[line - 1]
    end = starts[line] if line < len(starts) else len(text)
    width = len(text[start:end].rstrip("\r\n"))
    if column < 1 or column > width + 1:
        raise ValueError(f"column {column} is outside line {line} (it has {width} characters)")
    return start + column - 1


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
