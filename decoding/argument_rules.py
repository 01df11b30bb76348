"""The argument rule: a call's argument that is one plain name or literal may not end there if its type cannot be the parameter's.

`types` judges members after a dot (`mgd.monitors.types`); a local, a
parameter, a field or a literal passed as it is (`parse(source, errorList)`,
`frombytes(mode, 32, data)`) has no dot. Where the innermost open call has
one signature (its parameter types are in `Signature.types`, from the
`args` monitor's signature help: JDT.LS's parameter labels, jedi's
annotations), or overloads whose parameter types there are all known
(`Signature.overloads`, Java: `debug(message)` for `debug(String)` and
`debug(String, Throwable)`; then `)` is judged by the overloads that can
close after this argument and `,` by those that take more, each alone),
the argument being written is a single name or a literal
(a decimal number, `true`/`false`, `True`/`False`, a string: `"a"`, Python's
`b"a"` and `f"{a}"`), and a token that would
end the argument right after it (`,` or `)`, perhaps after spaces, or the
rest of a longer name and then one of them) is likely enough to be chosen,
its type is found: a literal's from its text, a name's from the server,
asked once for the names in scope that start so (one completion request,
`TypesMonitor.name_types`; Java lists every variable's declared type, and
in Python only a parameter its function has not named since its header is
sure to hold its annotation). Then every token that ends the argument so,
likely or not, is banned when the type it leaves surely cannot be passed
there (banning only the likely `);` let the model write `).` instead); a
name the server does not list with one known type, and any token that goes
on with `.`, an operator or brackets, stays free. A string is judged while
still open too: the vocabulary closes it and ends the argument in one
token (`")`, `abc",`). Python's keyword argument (`name=value`) is judged
by the annotation of the parameter so named, as a positional one is.

Python, with basedpyright beside jedi (`mgd.lsp.checker`): a name jedi
gives no type (a local, a parameter named again) and an argument that is a
dotted name (`self._crate_ref`) are judged by the type the checker gives
them right there, narrowed and inferred (one hover per likely ending's
text, `TypesMonitor.checked_type`): `ReferenceType[Crate]` cannot be passed
for a `Crate` (`mgd.monitors.python.checked.cannot_pass`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable

import numpy as np

from mgd.decoding.likely_tokens import PatternTokens
from mgd.lsp.checker import checker_for
from mgd.decoding.token_text import text_of
from mgd.monitors.calls import argument_endings

if TYPE_CHECKING:
    from mgd.decoding.answers import Answers
    from mgd.decoding.row_state import RowState
    from mgd.monitors.types import TypesMonitor

# a token that ends an argument: the rest of a name (maybe none), spaces, then `,` or `)`
_ENDS_ARGUMENT = re.compile(rb"^([A-Za-z0-9_$]*)[ \t]*[,)]")
_CLOSES_ARGUMENT = re.compile(rb"^([A-Za-z0-9_$]*)[ \t]*\)")
_COMMA_ENDS_ARGUMENT = re.compile(rb"^([A-Za-z0-9_$]*)[ \t]*,")
_LITERAL_WORDS = frozenset({"this", "super", "null", "new", "self", "cls", "None"})  # not judged
_LITERAL_VALUES = frozenset({"true", "false", "True", "False"})  # judged as literals, with numbers


class ArgumentRules:
    """Tokens that would end a plain-name or literal argument of a type the parameter cannot take, for one vocabulary."""

    def __init__(self, token_bytes: list[bytes | None], answers: Answers, monitor: TypesMonitor) -> None:
        self._table = token_bytes
        self._answers = answers
        self._monitor = monitor
        self._enders = PatternTokens(token_bytes, _ENDS_ARGUMENT)  # each with the name's rest it writes first
        self._closers = PatternTokens(token_bytes, _CLOSES_ARGUMENT)
        self._commas = PatternTokens(token_bytes, _COMMA_ENDS_ARGUMENT)
        # tokens that close a one-line string with its quote and then end the argument, caught by the ending
        self._string_closers = {
            quote: PatternTokens(token_bytes, re.compile(rb"^(?:[^%b\\\n]|\\.)*%b[ \t]*([,)])" % (quote.encode(), quote.encode()), re.S))
            for quote in ("'", '"')
        }
        self.verdicts: list[dict] = []  # the last call's unfit endings: what was written, expected, given, and who said so

    def bans(self, prompt: int, gen: np.ndarray, state: RowState, scores: np.ndarray, margin: float) -> list[int]:
        """Tokens ending the argument being written with a name or literal the parameter cannot take (`scores`: the row's, (vocab,))."""
        self.verdicts = []
        if not state.calls:
            return []
        track = state.calls[-1]
        if track.depth != 1 or not (state.lex.in_code or track.string is not None):
            return []
        if track.keyword is not None:  # Python's `name=value`: the parameter so named
            expected, endings = track.sig.keyword_type(track.keyword), {}
        else:
            position = track.given_positional
            expected = track.sig.types[position] if position < len(track.sig.types) else None
            endings = _known_endings(track.sig.overloads, position) if expected is None else {}
        if expected is None and not endings:
            return []
        if track.string is not None:
            return self._string(track.string, state.lex, expected, endings, scores, margin)
        checked = checker_for(self._answers.session) is not None  # basedpyright beside jedi (Python)
        if track.ident is None:
            dotted = track.path is not None and "." in track.path and not track.path.endswith(".")
            if expected is None:
                return []  # overloads (Java): a dotted argument is judged at its dot (`mgd.monitors.types`)
            return self._checked(prompt, text_of(self._table, gen), expected, scores, margin, [], set()) if dotted and checked else []
        if track.ident in _LITERAL_WORDS:
            return []
        if not any(not (rest and track.ident_done) for _, rest in self._enders.likely(scores, margin)):
            return []  # no ending is likely: not worth a query
        session = self._answers.session
        literal = track.ident[0].isdigit() or track.ident in _LITERAL_VALUES
        if literal:
            given_of = lambda written: self._monitor.literal_type(session, written)  # noqa: E731 - a literal is its own type
        else:
            generated = text_of(self._table, gen)
            types = self._answers.name_types(prompt, generated, self._monitor)
            if not types and not checked:
                return []
            given_of = (types or {}).get
        # every ending is judged, not only the likely ones: the answer holds for all, and an unjudged `).` would
        # take the place of a banned `);`
        if track.ident_done:
            rests: Iterable[str] = ("",)
        elif literal:
            rests = self._enders.by_rest()  # a literal's type is its whole text's: every rest may change it
        else:  # only the rests that complete a listed name can be judged
            rests = {name[len(track.ident) :] for name in types or {} if name.startswith(track.ident)}
        fits: dict[tuple[str, str], bool] = {}
        banned: list[int] = []
        for rest in rests:
            given = given_of(track.ident + rest)
            if given is None:
                continue
            # one signature: every ending; overloads: each ending by the parameters of the overloads that end so
            for enders, wanted in ((self._enders, (expected,)),) if expected is not None else self._by_ending(endings):
                for want in wanted:
                    if (want, given) not in fits:
                        fits[want, given] = self._monitor.fits_argument(session, want, given)
                if not any(fits[want, given] for want in wanted):
                    banned += enders.with_rest(rest).tolist()
                    said = expected if expected is not None else " or ".join(wanted)
                    self.verdicts.append({"argument": track.ident + rest, "expected": said, "given": given, "by": "server"})
        if checked and not literal and expected is not None:  # the names jedi gave no type: the checker's, where it stands
            judged = {rest for rest in rests if given_of(track.ident + rest) is not None}
            only = {""} if track.ident_done else None
            banned += self._checked(prompt, generated, expected, scores, margin, banned, judged, only)
        return banned

    def _string(
        self, opening: str, lex, expected: str | None, endings: dict[str, tuple[str, ...]], scores: np.ndarray, margin: float
    ) -> list[int]:
        """Tokens ending an argument that is one string literal (`opening`: its prefix and quote) where the parameter cannot take a string.

        Closed (`"name"`): the tokens that end the argument right away; still
        open: those that close it with its quote and then end the argument
        (`")`, `abc",`), as the vocabulary merges them.
        """
        quote = opening[-1]
        if lex.in_code:
            by_end = {")": self._closers.with_rest(""), ",": self._commas.with_rest("")}
            likely = [t for t, rest in self._enders.likely(scores, margin) if rest == ""]
        elif lex.open_quote == quote:
            closing = self._string_closers[quote]
            by_end = {")": closing.with_rest(")"), ",": closing.with_rest(",")}
            likely = [t for t, _ in closing.likely(scores, margin)]
        else:
            return []  # a triple-quoted string, or an escape just read: left free
        if not likely:
            return []  # no ending is likely: not worth judging
        given = self._monitor.literal_type(self._answers.session, opening + quote)
        if given is None:
            return []
        wanted_by_end = {end: (expected,) for end in by_end} if expected is not None else endings
        banned: list[int] = []
        for end, wanted in wanted_by_end.items():
            if not any(self._monitor.fits_argument(self._answers.session, want, given) for want in wanted):
                banned += by_end[end].tolist()
                self.verdicts.append({"argument": opening + "..." + quote, "expected": " or ".join(wanted), "given": given, "by": "server"})
        return banned

    def _by_ending(self, endings: dict[str, tuple[str, ...]]) -> list[tuple[PatternTokens, tuple[str, ...]]]:
        """(the tokens that end the argument with that character, the types the overloads ending so take) per ending."""
        return [(self._closers if end == ")" else self._commas, wanted) for end, wanted in endings.items()]

    def _checked(
        self, prompt: int, generated: str, expected: str, scores: np.ndarray, margin: float,
        banned: list[int], judged: set[str], only: set[str] | None = None,
    ) -> list[int]:
        """Endings of the argument that `generated` ends with (a name or dotted name) whose type, as the checker gives it there, cannot be passed.

        One hover per likely rest (`only`: the rests allowed; `judged`: rests
        already decided); a rest found wrong bans every token that ends the
        argument with it, and the row is looked at again, as what was
        unlikely may now be its best.
        """
        session = self._answers.session
        verdicts: dict[str, bool] = dict.fromkeys(judged, False)
        more: list[int] = []
        asked = True
        while asked:
            asked = False
            for _, rest in self._enders.likely(scores, margin, banned + more):
                if rest in verdicts or (only is not None and rest not in only):
                    continue
                printed = self._answers.checked_type(prompt, (generated + rest).rstrip(" \t"), self._monitor)
                verdicts[rest] = printed is not None and self._monitor.cannot_pass(session, expected, printed)
                asked = True
                if verdicts[rest]:
                    more += self._enders.with_rest(rest).tolist()
                    self.verdicts.append({"argument": generated[-60:] + rest, "expected": expected, "given": printed, "by": "checker"})
        return more


def _known_endings(overloads, position: int) -> dict[str, tuple[str, ...]]:
    """The endings (`)`, `,`) of the argument at `position` for which every overload that ends so has a known parameter type there."""
    return {end: wanted for end, wanted in argument_endings(overloads, position).items() if wanted and None not in wanted}
