"""The registered prompts, and which of them each row of a generation continues.

An engine hands guidance rows of token ids, not requests. Each registered
prompt is its token ids and the `Document` it stands for; a row is matched
to the prompt its first `width` tokens end with (padding comes before a
prompt), once per distinct prompt part. The first call of a generation
fixes `width`; a call whose rows did not grow by exactly one token, or whose
first row's prompt part has not been seen, starts a new generation.
"""

from __future__ import annotations

import logging

import numpy as np

from mgd.decoding.row_state import RowState
from mgd.monitors.base import Document

log = logging.getLogger("mgd")


class Prompts:
    """The prompts of the coming generations, and the per-generation match of rows to them."""

    def __init__(self) -> None:
        self._entries: list[tuple[tuple[int, ...], Document, RowState]] = []
        self.reset()

    def add(self, ids: tuple[int, ...], document: Document, start: RowState) -> None:
        """Register a prompt: its token ids, its document, and the state its text leaves a row in."""
        self._entries.append((ids, document, start))

    def clear(self) -> None:
        """Forget every registered prompt."""
        self._entries.clear()

    def reset(self) -> None:
        """Forget the current generation's width and row matches."""
        self.width: int | None = None
        self._last_length = 0
        self._row_prompt: dict[bytes, int | None] = {}
        self._warned_unknown = False

    def document(self, prompt: int) -> Document:
        """The document prompt number `prompt` stands for."""
        return self._entries[prompt][1]

    def start(self, prompt: int) -> RowState:
        """The state of a row that has generated nothing yet after prompt number `prompt`."""
        return self._entries[prompt][2]

    def step(self, ids: np.ndarray) -> bool:
        """Take note of a step over rows `ids` (rows, length); True if it starts a new generation (then reset)."""
        length = ids.shape[1]
        # generate() adds one token per call to rows whose prompts we have seen
        new = (
            self.width is None
            or length != self._last_length + 1
            or ids[0, : self.width].tobytes() not in self._row_prompt
        )
        if new:
            self.reset()
            self.width = length
            if not self._entries:
                log.warning("mgd: no prompt registered with add_prompt(); decoding is not guided")
        self._last_length = length
        return new

    def prompt_of(self, row_ids: np.ndarray) -> int | None:
        """The number of the prompt row `row_ids` continues, or None (warned once per generation)."""
        head = row_ids[: self.width]
        key = head.tobytes()
        if key in self._row_prompt:
            return self._row_prompt[key]
        found = None
        if len(self._entries) == 1:
            found = 0
        else:
            row = tuple(int(t) for t in head)
            for i, (prompt_ids, _, _) in enumerate(self._entries):
                if prompt_ids and row[-len(prompt_ids) :] == prompt_ids:
                    found = i
                    break
        if found is None and self._entries and not self._warned_unknown:
            self._warned_unknown = True
            log.warning("mgd: a row matches no registered prompt; it is decoded unguided")
        self._row_prompt[key] = found
        return found
