"""The monitor abstraction: when to ask the server, and what it allows then.

A monitor is stateless about any one sequence: the decoder keeps, per
sequence, the scanner state of the text written so far and hands it to the
monitor. The monitor says whether the text just written is a trigger and, if
so, asks the language server for the names that may follow. The answer None
means "no opinion": decoding goes on unconstrained, never with nothing allowed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Protocol

# The scanner contract: every language's scanner state has these fields, with
# CODE (its mode for code) equal to 0 and `prev` taking the PREV_* values below.
CODE = 0
# What the last code character was, as far as a following `.` is concerned.
PREV_OTHER, PREV_NAME, PREV_NUMBER, PREV_CLOSE, PREV_DEREF_DOT = range(5)


class ScanState(Protocol):
    """Where a language's incremental scanner stands after some text (immutable, hashable)."""

    mode: int  # CODE, or a language-specific mode for strings and comments
    prev: int  # PREV_*
    word: str  # the identifier being read while it may still be a keyword, else "#"
    hard_keywords: frozenset[str]  # words that are never receivers or callees

    @property
    def at_dereference(self) -> bool: ...  # the text ends with a member-access dot in code

    @property
    def in_code(self) -> bool: ...  # the next character would be read as code

    @property
    def in_comment(self) -> bool: ...  # inside a comment

    @property
    def open_quote(self) -> str: ...  # the quote that would close the one-line string being written now, else ""

    def step(self, ch: str) -> "ScanState": ...  # the state after one more character

    def advance(self, text: str) -> "ScanState": ...  # the state after more text


def is_ident_char(ch: str) -> bool:
    """True for characters that may continue a Python identifier (and, but for `$`, a Java one)."""
    return ch == "_" or ch.isalnum()


@dataclass(frozen=True)
class Document:
    """The file being written: its path, and the text around the insertion point.

    The generated text is inserted between `prefix` and `suffix`; the server
    sees `prefix + generated + suffix`, only in memory. `typed`: text the
    generation is known to begin with (a word typed before the cursor that
    the prompt stops short of, as in `mgd serve`, which holds the rows to
    it after guidance): where guidance would read the model's best token
    for what comes next, it reads this text while the rows are writing it.
    """

    path: str
    prefix: str
    suffix: str = ""
    typed: str = ""


class Names(frozenset):
    """Allowed names, with what the server said about some of them (a plain frozenset to everyone else).

    - `no_call`: a `(` may not follow these names (JDT.LS: a field that is no method's name).
    - `checked`: a `(` may not follow these names if the server says their
      value's type is not callable; asked only where a token that would write
      the `(` is likely (`DereferenceMonitor.value_not_callable`).
    - `hidden`: allowed only where the row's first token after the trigger
      is headed for one of them (`_` first, or a start only they share); see
      `mgd.monitors.dereference`. If they are all the names, a row not
      headed for one goes unconstrained.
    - `no_end`: the expression may not end right after these names (or after
      their call's closing `)`): their type does not fit where the value
      goes, but a `.` (a chain step) or an operator may still follow them
      (`mgd.monitors.types`, `mgd.decoding.chain_rules`).
    - `no_end_sums`: those of `no_end` whose arithmetic results are unfit
      too (a `long` where an `int` goes): the rule waits through
      arithmetic operators after them.
    - `no_close` / `no_comma`: at an argument of an overloaded call, no `)`
      (resp. `,`) may follow these names (or their call's `)`): no overload
      that ends (goes on) there takes their type. A name in both is `no_end`.

    Intersecting two answers (`allowed_together`) keeps the names both allow
    and every rule either one gives; a plain frozenset brings none.
    """

    no_call: frozenset[str]
    checked: frozenset[str]
    hidden: frozenset[str]
    no_end: frozenset[str]
    no_end_sums: frozenset[str]
    no_close: frozenset[str]
    no_comma: frozenset[str]

    def __new__(cls, names=(), *, no_call=(), checked=(), hidden=(), no_end=(), no_end_sums=(), no_close=(), no_comma=()):
        self = super().__new__(cls, names)
        every = frozenset(self)
        self.no_call = frozenset(no_call) & every
        self.checked = (frozenset(checked) & every) - self.no_call
        self.hidden = frozenset(hidden) & every
        self.no_end = (frozenset(no_end) | frozenset(no_end_sums)) & every
        self.no_end_sums = frozenset(no_end_sums) & every
        both = frozenset(no_close) & frozenset(no_comma)
        self.no_end |= both & every
        self.no_close = (frozenset(no_close) & every) - self.no_end
        self.no_comma = (frozenset(no_comma) & every) - self.no_end
        return self

    def __and__(self, other):
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return Names(
            frozenset(self) & frozenset(other),
            no_call=self.no_call | getattr(other, "no_call", frozenset()),
            checked=self.checked | getattr(other, "checked", frozenset()),
            hidden=self.hidden | getattr(other, "hidden", frozenset()),
            no_end=self.no_end | getattr(other, "no_end", frozenset()),
            no_end_sums=self.no_end_sums | getattr(other, "no_end_sums", frozenset()),
            no_close=self.no_close | getattr(other, "no_close", frozenset()),
            no_comma=self.no_comma | getattr(other, "no_comma", frozenset()),
        )

    __rand__ = __and__

    def __reduce__(self):
        rules = (self.no_call, self.checked, self.hidden, self.no_end, self.no_end_sums, self.no_close, self.no_comma)
        return (_names, (frozenset(self),) + rules)

    def __repr__(self) -> str:
        return (
            f"Names({sorted(self)!r}, no_call={sorted(self.no_call)!r}, checked={sorted(self.checked)!r}, "
            f"hidden={sorted(self.hidden)!r}, no_end={sorted(self.no_end)!r}, no_end_sums={sorted(self.no_end_sums)!r}, "
            f"no_close={sorted(self.no_close)!r}, no_comma={sorted(self.no_comma)!r})"
        )


def _names(names, no_call, checked, hidden, no_end=frozenset(), no_end_sums=frozenset(), no_close=frozenset(), no_comma=frozenset()) -> Names:
    return Names(
        names, no_call=no_call, checked=checked, hidden=hidden, no_end=no_end, no_end_sums=no_end_sums, no_close=no_close, no_comma=no_comma
    )


@dataclass(frozen=True)
class Trigger:
    """Where a monitor fired: ask the server after the text plus `at`.

    `lead_space`: the name must come after a space the tokenizer usually
    writes together with it (`import` + ` Book`), so the query looks one
    space ahead and tokens are matched past their leading space.
    `word_may_go_on`: the keyword that fired may be the start of a longer
    word (`new` of `newlen`), so a token that goes on with it is free; False
    where the line's shape rules that out (`from x import`).
    """

    at: str = ""
    lead_space: bool = False
    word_may_go_on: bool = True


class Monitor(ABC):
    """Watches the text being written and names what may legally come next.

    `open_start`: at the trigger the code may also go on with something that
    is not a name at all (`(` or `*` after `from m import `); only a name, if
    one is written, must be allowed. When several monitors answer at once,
    the point is open only if every one of them says so.
    """

    name: str = "monitor"
    open_start: bool = False

    @abstractmethod
    def trigger(self, state: ScanState, line: str) -> Trigger | None:
        """Where the text (scanned into `state`, its current line reading `line`) opens a constrained name, or None."""

    @abstractmethod
    def allowed_names(self, session, document: Document, generated: str) -> frozenset[str] | None:
        """Names that may follow `prefix + generated` (which ends at the query point), or None for no constraint."""

    # True for a monitor whose `warm_up` asks the server something (once per server)
    warms_up: bool = False

    def warm_up(self, session, document: Document, send: Callable[[Callable[[], object]], object] | None = None) -> None:
        """Ask ahead, with no bound on time, what a later answer reuses; most monitors have nothing to ask.

        `send(ask)` sends one request (`ask()`) the way the caller wants (in
        the background: through the session's gate); by default, directly.
        """
