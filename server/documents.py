"""Open editor buffers and the workspace folders they must lie in.

The editor's unsaved text is the truth: completions are computed from the
buffers kept here, never from the files on disk. A document is served only if
its path lies inside a workspace folder the client declared.
"""

from __future__ import annotations

import os
import pathlib
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from mgd.lsp.positions import encoded_length

_EOL = re.compile(r"\r\n|\r|\n")  # LSP's line ends


class DocumentError(ValueError):
    """A request names a document or position the server cannot serve (answered as InvalidParams)."""


def uri_to_path(uri: str) -> pathlib.Path:
    """The absolute, symlink-resolved path of a `file:` URI; DocumentError for any other URI."""
    if not isinstance(uri, str):
        raise DocumentError("the document URI must be a string")
    parsed = urlparse(uri)
    if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
        raise DocumentError(f"{uri} is not a local file URI (file:///...)")
    path = unquote(parsed.path)
    if not path.startswith("/"):
        raise DocumentError(f"{uri} has no absolute path")
    # resolve() folds `..` and symlinks, so a link cannot lead out of a folder
    return pathlib.Path(os.path.normpath(path)).resolve()


class WorkspaceFolders:
    """The folders the client declared (rootUri or workspaceFolders); nothing outside them is served."""

    def __init__(self) -> None:
        self._roots: list[pathlib.Path] = []

    @property
    def roots(self) -> list[pathlib.Path]:
        """The declared folders, resolved."""
        return list(self._roots)

    def add(self, uri: str) -> pathlib.Path | None:
        """Declare a folder by URI; None (and nothing declared) if it is not a local directory."""
        try:
            root = uri_to_path(uri)
        except DocumentError:
            return None
        if not root.is_dir():
            return None
        if root not in self._roots:
            self._roots.append(root)
        return root

    def remove(self, uri: str) -> pathlib.Path | None:
        """Forget a folder; the path removed, or None if it was not declared."""
        try:
            root = uri_to_path(uri)
        except DocumentError:
            return None
        if root in self._roots:
            self._roots.remove(root)
            return root
        return None

    def root_for(self, uri: str) -> tuple[pathlib.Path, pathlib.Path]:
        """(folder, path) for a document URI: the innermost declared folder holding it; DocumentError if none."""
        path = uri_to_path(uri)
        holders = [root for root in self._roots if root in path.parents]
        if not holders:
            if not self._roots:
                raise DocumentError(f"{uri}: no workspace folder was declared (rootUri or workspaceFolders)")
            raise DocumentError(f"{uri} is outside the workspace folders")
        return max(holders, key=lambda root: len(root.parts)), path


def position_to_offset(text: str, line: int, character: int, encoding: str = "utf-16") -> int:
    """Character offset in `text` of an LSP position counted in `encoding` units.

    A line past the end and a character past the end of its line are both
    errors (LSP would clamp the character; a client that sends one has lost
    track of the buffer, and a guess would complete somewhere else).
    """
    if not isinstance(line, int) or not isinstance(character, int) or line < 0 or character < 0:
        raise DocumentError(f"position {line}:{character} is not a pair of non-negative integers")
    start, current = 0, 0
    for match in _EOL.finditer(text):
        if current == line:
            return start + _units_to_chars(text[start : match.start()], line, character, encoding)
        start, current = match.end(), current + 1
    if current == line:
        return start + _units_to_chars(text[start:], line, character, encoding)
    raise DocumentError(f"line {line} is outside the document (it has {current + 1} lines)")


def _units_to_chars(text: str, line: int, units: int, encoding: str) -> int:
    """The character offset in one line's `text` of a column of `units`; a column inside a character means its start."""
    if encoding == "utf-32" or text.isascii():  # one unit per character
        counted = len(text)
        if units <= counted:
            return units
    else:
        counted = 0
        for i, ch in enumerate(text):
            if counted >= units:
                return i
            counted += encoded_length(ch, encoding)
            if counted > units:
                return i
    if counted < units:
        raise DocumentError(
            f"character {units} is past the end of line {line} (it is {counted} {encoding.upper()} units long)"
        )
    return len(text)


@dataclass
class OpenDocument:
    """One buffer the editor holds open."""

    uri: str
    path: pathlib.Path
    text: str
    version: int


class DocumentStore:
    """The open buffers, kept in step with didOpen/didChange/didClose."""

    def __init__(self, encoding: str = "utf-16") -> None:
        self.encoding = encoding
        self._docs: dict[str, OpenDocument] = {}

    def __len__(self) -> int:
        return len(self._docs)

    def open(self, uri: str, path: pathlib.Path, text: str, version: int) -> OpenDocument:
        """Hold a buffer the editor opened (replacing any older copy)."""
        doc = self._docs[uri] = OpenDocument(uri, path, text, version)
        return doc

    def change(self, uri: str, version: int, changes: list[tuple[tuple[int, int, int, int] | None, str]]) -> None:
        """Apply edits in order: ((start line, start char, end line, end char) or None for the whole text, new text)."""
        doc = self.get(uri)
        text = doc.text
        for span, new in changes:
            if span is None:
                text = new
                continue
            start = position_to_offset(text, span[0], span[1], self.encoding)
            end = position_to_offset(text, span[2], span[3], self.encoding)
            if end < start:
                raise DocumentError(f"edit range ends before it starts in {uri}")
            text = text[:start] + new + text[end:]
        # applied only if every edit was valid: a half-applied change would desynchronise the buffer
        doc.text, doc.version = text, version

    def close(self, uri: str) -> None:
        """Forget a buffer the editor closed."""
        self._docs.pop(uri, None)

    def get(self, uri: str) -> OpenDocument:
        """The open buffer for `uri`; DocumentError if the editor has not opened it."""
        doc = self._docs.get(uri)
        if doc is None:
            raise DocumentError(f"{uri} is not open (send textDocument/didOpen first)")
        return doc

    def offset(self, doc: OpenDocument, line: int, character: int) -> int:
        """Character offset of an LSP position in `doc`."""
        return position_to_offset(doc.text, line, character, self.encoding)
