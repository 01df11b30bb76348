"""The `types` monitor: after `expr.` where a value of a known type is expected, only members that can give it.

It fires where `deref` fires (a member-access dot) and shares its completion
list (`mgd.monitors.completion_memo`); its answer is intersected with
deref's (`mgd.monitors.compose.allowed_together`). Each language says three
things (`mgd.monitors.java.types`, `mgd.monitors.python.types`):

1. **What is expected where the expression goes**, read from the text before
   the receiver (`Expectation`): the declared type of the variable or field
   assigned, the return type of the enclosing method or function at
   `return`, the parameter type at an argument (server signature help,
   Java), `boolean` in a condition, a number as an arithmetic operand, or
   just "some value" (`type` None) where any value will do but one is needed.
   Anywhere else (an expression statement, a lambda, a ternary) the monitor
   has no opinion.
2. **What type each member gives**: JDT.LS writes it in every item's label
   (`totalUnits() : int`, `capacity : int`), at no extra query; for jedi
   one `completionItem/resolve` per method gives `def count() -> int`.
3. **Whether that type fits** (`FITS`, `NO`, `NO_SUMS`, `VOID`): Java's primitive
   widening, boxing and unboxing, `String`, and reference types by the
   project's declared hierarchy; Python's numeric tower and classes by the
   project's declared bases. Unknown, generic, `Any`, unions and types the
   monitor cannot place are `FITS`: never a wrong mask.

What the answer does with a member (a name with overloads counts all of them):

- every overload `VOID` (Java `void`, Python `-> None`): dropped. A void
  value can be neither the value expected nor a receiver or an operand.
- every overload `NO` or `VOID`: kept in the trie but marked `no_end`
  (`mgd.monitors.base.Names`): the expression may not end right after the
  member (or its call's `)`), so `;` `,` `)` `]` `}` `:`, the end of the
  generation and, in Python outside brackets, a line break are banned
  there (`mgd.decoding.chain_rules`). A `.` (the member is a chain step:
  `int n = shelf.heaviestCrate().weight()`, a builder), an operator
  (`shelf.size() > 0` in a condition) or anything else ends the rule: the
  member is then a receiver or an operand, and the constraint is left to
  whatever ends the expression. So a member whose type has no members
  (an `int` where a `Crate` is expected) is not dropped outright either:
  it may still be an operand (`shelf.isFull() ? a : b`).
- every overload `NO_SUMS` or `VOID` (Java: a number whose every
  arithmetic result is unfit too, a `long` where an `int` goes): marked
  `no_end_sums`, so the rule also waits through arithmetic operators
  (`this.remaining - 1;` is still a `long`; a comparison ends the rule).
- at an argument of an overloaded call (Java), each ending is judged by
  the overloads that end so (`Expectation.ends`): `NO_CLOSE` when none of
  those that can close the call after it takes the member's type (`)`
  banned after it, `,` free), `NO_COMMA` the other way round, `NO` when
  neither does (`mgd.decoding.chain_rules`, `CLOSE` and `COMMA`).
- otherwise: allowed as deref allows it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterable

from mgd.monitors.base import Document, Monitor, Names, Trigger
from mgd.monitors.completion_memo import completions_at
from mgd.monitors.dereference import grouped_arithmetic, member_names, narrowed, opening_bracket as _opening, own_names, partial_python_list

FITS, NO, VOID = "fits", "no", "void"
NO_SUMS = "no, nor any sum"  # unfit, and so is every arithmetic result that starts with it
NO_CLOSE, NO_COMMA = "no `)` after it", "no `,` after it"  # at an overloaded call's argument: one ending takes it, the other not
log = logging.getLogger("mgd")


@dataclass(frozen=True)
class Expectation:
    """What the expression ending at the dot must give: a type as the language writes it, or None for any value."""

    type: str | None
    where: str  # return, assignment, argument, condition, operand, value: for logs and tests
    # at an argument of an overloaded call: per ending (`)`, `,`), the types the overloads that end so take there
    ends: tuple[tuple[str, tuple[str | None, ...]], ...] = ()


_AT_DOT = Trigger()


class TypesMonitor(Monitor):
    """Masks members whose type cannot fit where the expression's value goes (see the module docstring)."""

    name = "types"
    by_receiver = False  # the answer depends on where the value goes, not only on the receiver (`Answers` keeps it per text)

    def trigger(self, state, line: str) -> Trigger | None:
        """Fires where `deref` does: the text ends with a member-access dot in code."""
        return _AT_DOT if state.at_dereference else None

    def allowed_names(self, session, document: Document, generated: str) -> frozenset[str] | None:
        """The members with `VOID` types dropped and those that cannot end the expression marked `no_end`; None if none is."""
        try:
            judged = self.judge(session, document, generated)
        except Exception as err:  # noqa: BLE001 - a rule that trips must cost its own opinion, never deref's answer
            log.debug("mgd: types: no opinion (%s: %s)", type(err).__name__, err)
            return None
        if judged is None:
            return None
        names, verdicts = judged
        dropped = {n for n, v in verdicts.items() if v == VOID}
        no_end = {n for n, v in verdicts.items() if v == NO}
        sums = {n for n, v in verdicts.items() if v == NO_SUMS}
        no_close = {n for n, v in verdicts.items() if v == NO_CLOSE}
        no_comma = {n for n, v in verdicts.items() if v == NO_COMMA}
        if not dropped and not no_end and not sums and not no_close and not no_comma:
            return None
        return Names(names - dropped, no_end=no_end, no_end_sums=sums, no_close=no_close, no_comma=no_comma)

    def judge(self, session, document: Document, generated: str) -> tuple[frozenset[str], dict[str, str]] | None:
        """The members at the dot and each one's verdict (`FITS`, `NO`, `NO_SUMS`, `VOID`), or None where nothing is expected or known."""
        rules = language_rules(getattr(session, "language", "python"))
        text = document.prefix + generated
        if getattr(session, "language", "python") == "python" and (grouped_arithmetic(text) or narrowed(text)):
            return None  # where deref leaves the list free (jedi's is a guess there), so does `types`
        expected = rules.expectation(session, document, text)
        if expected is None:
            return None
        items = completions_at(session, document.path, text + document.suffix, len(text))
        if not items or getattr(items, "is_incomplete", False) or getattr(items, "receiver_guessed", False):
            return None
        names = member_names(items)
        if not names or (getattr(session, "language", "python") == "python" and partial_python_list(own_names(items), text)):
            return None
        types = rules.member_types(session, items, names)
        root = getattr(session, "root", None)
        verdicts = {name: combined([rules.verdict(expected, t, root) for t in types.get(name, [None])]) for name in names}
        if expected.ends:
            for name, found in verdicts.items():
                if found == FITS:
                    verdicts[name] = by_ending(expected, types.get(name, [None]), lambda want, t: rules.verdict(want, t, root))
        if log.isEnabledFor(logging.INFO):
            unfit = {name: types.get(name) for name, verdict in verdicts.items() if verdict != FITS}
            if unfit:
                where = text.rsplit("\n", 1)[-1].lstrip()[-40:]
                log.info("mgd: types at %r: %s of type %s expected; unfit members and their types: %s", where, expected.where, expected.type, unfit)
        return names, verdicts

    def name_types(self, session, document: Document, generated: str) -> dict[str, str] | None:
        """The declared type of each variable and field whose name starts with the name `generated` ends with (None: the server cannot say).

        One completion request at the end of the text: the server lists the
        names in scope there with their types (`mgd.decoding.argument_rules`).
        """
        rules = language_rules(getattr(session, "language", "python"))
        variable_types = getattr(rules, "variable_types", None)
        if variable_types is None:
            return None
        text = document.prefix + generated
        items = completions_at(session, document.path, text + document.suffix, len(text))
        if not items or getattr(items, "is_incomplete", False):
            return None
        return variable_types(session, items, text)

    def optional_member(self, session, document: Document, generated: str) -> bool | None:
        """True if the `self.name` (or `self.name(...)`) that `generated` ends with may be None there: no member of it may be read (None: cannot say).

        Python only (`mgd.decoding.none_rules`): one definition request for the name's declarations.
        """
        optional_member = getattr(language_rules(getattr(session, "language", "python")), "optional_member", None)
        return None if optional_member is None else optional_member(session, document, document.prefix + generated)

    def returns_a_value(self, session, document: Document, generated: str) -> bool:
        """True if the function around the line that `generated` ends is declared to return a class that is surely never None.

        Python only (`mgd.decoding.return_rules`): read from the text and the project's classes, no query.
        """
        rules = language_rules(getattr(session, "language", "python"))
        returns_a_value = getattr(rules, "returns_a_value", None)
        return returns_a_value is not None and returns_a_value(document.prefix + generated, getattr(session, "root", None))

    def checked_type(self, session, document: Document, generated: str) -> str | None:
        """The type checker's type of the name or dotted name that `generated` ends with, as it prints it (None: no answer).

        Python only (basedpyright beside jedi, `mgd.monitors.python.checked`): one hover.
        """
        if getattr(session, "language", "python") != "python":
            return None
        from mgd.monitors.python.checked import checked_type

        return checked_type(session, document, document.prefix + generated)

    def cannot_pass(self, session, expected: str, printed: str) -> bool:
        """True if a value the type checker types `printed` surely cannot be passed for a parameter of type `expected` (Python)."""
        from mgd.monitors.python.checked import cannot_pass

        return cannot_pass(expected, printed, getattr(session, "root", None))

    def literal_type(self, session, text: str) -> str | None:
        """The type of a literal argument written as `text` (`32`, `true`), as the rules compare types; None if it is no literal they read."""
        literal_type = getattr(language_rules(getattr(session, "language", "python")), "literal_type", None)
        return None if literal_type is None else literal_type(text)

    def fits_argument(self, session, expected: str, given: str) -> bool:
        """False if a value of type `given` surely cannot be passed where a parameter of type `expected` is (unknowns fit)."""
        rules = language_rules(getattr(session, "language", "python"))
        return rules.verdict(Expectation(expected, "argument"), given, getattr(session, "root", None)) not in (NO, NO_SUMS)

    def expectation(self, session, document: Document, generated: str) -> Expectation | None:
        """What is expected where the expression ending at the dot goes (None: nothing the monitor can say)."""
        return language_rules(getattr(session, "language", "python")).expectation(
            session, document, document.prefix + generated
        )


def judged(expected: Expectation, member: str | None, void: str, fits: Callable[[str, str], bool | None]) -> str:
    """`VOID` for a member of type `void`; `NO` where `fits(expected type, member type)` says False; else `FITS` (unknowns fit)."""
    if member == void:
        return VOID
    if expected.type is None or member is None:
        return FITS
    return NO if fits(expected.type, member) is False else FITS


def by_ending(expected: Expectation, member_types: list[str | None], verdict: Callable[[Expectation, str | None], str]) -> str:
    """At an argument of an overloaded call: `NO` if neither ending takes any of `member_types`, `NO_CLOSE` / `NO_COMMA` if one does not, else `FITS`.

    An ending no overload has (empty) is left to the count rules; an unknown
    type on either side fits.
    """
    unfit = set()
    for end, wanted in expected.ends:
        if wanted and all(verdict(Expectation(w, "argument"), t) in (NO, NO_SUMS, VOID) for w in wanted for t in member_types):
            unfit.add(end)
    return NO if unfit == {")", ","} else NO_CLOSE if ")" in unfit else NO_COMMA if "," in unfit else FITS


def combined(verdicts: list[str]) -> str:
    """One verdict for a name from its overloads': `VOID` if all are void, `NO_SUMS` if all are that or void, `NO` if none fits, else `FITS`."""
    if verdicts and all(v == VOID for v in verdicts):
        return VOID
    if verdicts and all(v in (NO_SUMS, VOID) for v in verdicts):
        return NO_SUMS
    if verdicts and all(v in (NO, NO_SUMS, VOID) for v in verdicts):
        return NO
    return FITS


def language_rules(language: str):
    """The module with `expectation`, `member_types` and `verdict` for a language server."""
    if language == "java":
        from mgd.monitors.java import types as rules
    else:
        from mgd.monitors.python import types as rules
    return rules


def receiver_start(text: str, ident_chars: str = "_") -> int | None:
    """Where the receiver of the member-access dot ending `text` starts: a chain of names, calls, indexes and literals.

    None when the text before the dot is no such chain (a cast, a number).
    """
    k = len(text) - 1  # the dot
    if k < 1:
        return None
    while True:
        start = k
        while k > 0 and text[k - 1] in ")]":
            k = _opening(text, k - 1)
            if k is None:
                return None
        if k > 0 and text[k - 1] in "\"'":
            k = text.rfind(text[k - 1], 0, k - 1)
            if k < 0:
                return None
        else:
            while k > 0 and (text[k - 1].isalnum() or text[k - 1] in ident_chars):
                k -= 1
        if k == start or text[k : k + 1].isdigit():
            return None
        if k > 0 and text[k - 1] == ".":
            k -= 1
            continue
        return k


def enclosing_call(text: str, start: int) -> tuple[int, int] | None:
    """(index of the innermost `(` open before `start`, top-level commas between it and `start`), or None if none is open."""
    depth, commas = 0, 0
    for i in range(start - 1, -1, -1):
        ch = text[i]
        if ch in ")]}":
            depth += 1
        elif ch in "[{":
            if depth == 0:
                return None
            depth -= 1
        elif ch == "(":
            if depth == 0:
                return i, commas
            depth -= 1
        elif ch == "," and depth == 0:
            commas += 1
        elif ch == ";" and depth == 0:
            return None
    return None


class DeclaredTypes:
    """A project's types and the supertypes their declarations name, read from its sources once per root and language.

    Names declared more than once, and a language's type parameters, are
    `ambiguous`: the rules treat them as unknown. `top` is the root of the
    hierarchy (`Object`, `object`), which every type reaches anyway.
    """

    _cache: dict[tuple, "DeclaredTypes"] = {}

    def __init__(self, parents: dict[str, frozenset[str]], ambiguous: frozenset[str] = frozenset(), top: str = "object") -> None:
        self._parents, self._ambiguous, self._top = parents, ambiguous, top

    @classmethod
    def read(
        cls, key: tuple, files: Iterable, declarations: Callable[[str], Iterable[tuple[str, frozenset, frozenset]]], top: str,
        limit: int = 20000,
    ) -> "DeclaredTypes":
        """The types `declarations(text)` finds (name, direct supertypes, type parameters) in the first `limit` `files` (cached under `key`)."""
        if key not in cls._cache:
            parents: dict[str, frozenset[str]] = {}
            seen: dict[str, int] = {}
            params: set[str] = set()
            for count, path in enumerate(files):
                if count >= limit:
                    break
                try:
                    with open(path, encoding="utf-8", errors="replace") as handle:
                        text = handle.read()
                except OSError:
                    continue
                for name, supers, declared_params in declarations(text):
                    seen[name] = seen.get(name, 0) + 1
                    parents[name] = supers
                    params |= declared_params
            ambiguous = frozenset(n for n, c in seen.items() if c > 1) | frozenset(params)
            cls._cache[key] = cls({n: p for n, p in parents.items() if n not in ambiguous}, ambiguous, top)
        return cls._cache[key]

    def declares(self, name: str) -> bool:
        """True if the project declares exactly one type called `name` (and no type parameter is so called)."""
        return name in self._parents

    def ambiguous(self, name: str) -> bool:
        """True if `name` is declared more than once, or is a type parameter somewhere in the project."""
        return name in self._ambiguous

    def parents(self, name: str) -> frozenset[str]:
        """The supertypes `name`'s own declaration lists (none for a type not declared once)."""
        return self._parents.get(name, frozenset())

    def supertypes(self, name: str) -> frozenset[str]:
        """`name` and every type its declarations extend, implement or list as bases, transitively (outside ones included)."""
        found, todo = {name}, [name]
        while todo:
            for parent in self._parents.get(todo.pop(), ()):
                if parent not in found:
                    found.add(parent)
                    todo.append(parent)
        return frozenset(found)

    def leaves_project(self, name: str) -> bool:
        """True if a supertype of `name` is no project type (a library type could stand between it and anything)."""
        return any(not self.declares(t) and t != self._top for t in self.supertypes(name))
