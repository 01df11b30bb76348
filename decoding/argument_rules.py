"""The argument rule: a call's argument that is one plain name may not end there if the name's type cannot be the parameter's.

`types` judges members after a dot (`mgd.monitors.types`); a local, a
parameter or a field passed as it is (`parse(source, errorList)`) has no
dot. Where the innermost open call has one signature (its parameter types
are in `Signature.types`, from the `args` monitor's signature help), the
argument being written is a single name, and a token that would end the
argument right after it (`,` or `)`, perhaps after spaces, or the rest of
a longer name and then one of them) is likely enough to be chosen, the
server is asked once for the names in scope that start so, with their
declared types (one completion request, `TypesMonitor.name_types`). A
token is banned when the name it completes is a variable or field of a
type that surely cannot be passed there; a name the server does not list
with one known type, and any token that goes on with `.`, an operator or
brackets, stays free.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from mgd.decoding.token_text import text_of

if TYPE_CHECKING:
    from mgd.decoding.answers import Answers
    from mgd.decoding.row_state import RowState
    from mgd.monitors.types import TypesMonitor

# a token that ends an argument: the rest of a name (maybe none), spaces, then `,` or `)`
_ENDS_ARGUMENT = re.compile(rb"^([A-Za-z0-9_$]*)[ \t]*[,)]")
_LITERAL_WORDS = frozenset({"this", "super", "null", "true", "false", "new"})


class ArgumentRules:
    """Tokens that would end a plain-name argument of a type the parameter cannot take, for one vocabulary."""

    def __init__(self, token_bytes: list[bytes | None], answers: Answers, monitor: TypesMonitor) -> None:
        self._table = token_bytes
        self._answers = answers
        self._monitor = monitor
        enders = [(t, _ENDS_ARGUMENT.match(d)) for t, d in enumerate(token_bytes) if d]
        enders = [(t, m.group(1).decode("ascii")) for t, m in enders if m]
        self._ids = np.array([t for t, _ in enders], dtype=np.int64)  # (enders,)
        self._rests = [rest for _, rest in enders]  # the name's rest each writes first ('' for `)`, `,`)

    def bans(self, prompt: int, gen: np.ndarray, state: RowState, scores: np.ndarray, margin: float) -> list[int]:
        """Tokens ending the argument being written with a name whose type the parameter cannot take (`scores`: the row's, (vocab,))."""
        if not state.calls or not state.lex.in_code:
            return []
        track = state.calls[-1]
        if track.depth != 1 or track.ident is None or track.keyword is not None or track.ident in _LITERAL_WORDS:
            return []
        position = track.given_positional
        expected = track.sig.types[position] if position < len(track.sig.types) else None
        if expected is None:
            return []
        # asked only where such a token is likely: an unlikely one stays free rather than cost a query
        threshold = float(scores.max()) - margin
        # one vector test (numpy or torch rows alike), not an element-wise loop over the vocabulary
        near = (scores[self._ids] >= threshold).tolist()
        likely = [(int(self._ids[i]), self._rests[i]) for i, ok in enumerate(near) if ok and not (self._rests[i] and track.ident_done)]
        if not likely:
            return []
        types = self._answers.name_types(prompt, text_of(self._table, gen), self._monitor)
        if not types:
            return []
        session = self._answers.session
        banned = []
        for t, rest in likely:
            given = types.get(track.ident + rest)
            if given is not None and not self._monitor.fits_argument(session, expected, given):
                banned.append(t)
        return banned
