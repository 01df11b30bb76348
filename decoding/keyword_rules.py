"""Where a call's argument may only be passed by keyword, the tokens that cannot write one of the keywords left.

The rule itself is the call track's (`CallTrack.keyword_only`): once every
positional parameter has a value and the callee takes no `*args` nor
`**kwargs`, an argument must be `name=` for a keyword not given yet (or an
unpacked `*`/`**`). Judging every token of the vocabulary by following it
character by character would cost a scan per step; instead the tokens are
grouped once by the name they start with (after any leading space), so a
step looks up only those that start a keyword left, or go on with the name
being written, and the few with no name at all (spaces, `#`, `*`). Those few
are followed character by character (`breaks`); every other token would
break the rule and is banned. Tokens holding `)`, `,` or `=` are left to
the call rules, which follow all of them.
"""

from __future__ import annotations

import numpy as np

from mgd.monitors.base import ScanState, is_ident_char
from mgd.monitors.calls import breaks

_MAX_CACHED = 256  # each entry holds up to a vocabulary's ids
_NONE = np.zeros(0, dtype=np.int32)


def _leading_name(body: str) -> str:
    """The identifier characters `body` starts with."""
    end = 0
    while end < len(body) and is_ident_char(body[end]):
        end += 1
    return body[:end]


class KeywordNameTokens:
    """A vocabulary's tokens by the name they start with, to judge them at a keyword-only argument."""

    def __init__(self, token_bytes: list[bytes | None], judged_elsewhere: set[int]) -> None:
        texts = [d.decode("utf-8", "replace") if d else "" for d in token_bytes]
        self._texts = texts
        self._plain = np.array(
            [bool(text) and t not in judged_elsewhere for t, text in enumerate(texts)], dtype=bool
        )  # (vocab,): the tokens judged here
        self._flush: dict[str, list[int]] = {}  # name -> tokens starting with it, no space before
        self._spaced: dict[str, list[int]] = {}  # name -> tokens starting with it after spaces
        self._nameless: list[int] = []  # spaces only, or spaces then `#` or `*`
        for t in np.flatnonzero(self._plain).tolist():
            text = texts[t]
            body = text.lstrip()
            name = _leading_name(body)
            if name:
                (self._flush if len(body) == len(text) else self._spaced).setdefault(name, []).append(t)
            elif body[:1] in ("", "#", "*"):
                self._nameless.append(t)
        # (open calls, scanner state) -> banned ids; the same keyword-only states come back in a generation
        self._cache: dict[tuple, np.ndarray] = {}

    def bans(self, calls: tuple, lex: ScanState) -> np.ndarray:
        """Token ids (not holding `)`, `,`, `=`) that break the innermost call's keyword-only rule; empty where it does not hold."""
        key = (calls, lex)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()
            found = self._cache[key] = self._judge(calls, lex)
        return found

    def _judge(self, calls: tuple, lex: ScanState) -> np.ndarray:
        track = calls[-1]
        if not track.keyword_only() or not lex.in_code:
            return _NONE
        left = track.names_left()
        if not track.content:
            written, groups = "", (self._flush, self._spaced)
        elif track.ident is not None and not track.ident_done:
            written, groups = track.ident, (self._flush,)
        elif track.ident is not None:
            written, groups = track.ident, ()
        else:
            return _NONE  # a rule broke already: nothing more to say
        if not any(name.startswith(written) for name in left):
            return _NONE  # the prompt wrote a name no keyword starts with: left free
        candidates = list(self._nameless)
        rests = {name[len(written) : end] for name in left if name.startswith(written) for end in range(len(written) + 1, len(name) + 1)}
        for group in groups:
            for rest in rests:
                candidates += group.get(rest, ())
        allowed = [t for t in candidates if not breaks(calls, lex, self._texts[t])]
        banned = self._plain.copy()
        banned[allowed] = False
        return np.flatnonzero(banned).astype(np.int32)
