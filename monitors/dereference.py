"""The dereference monitor: after `expr.` only members of `expr` may follow.

Trigger: the text ends with a `.` in code that follows a name, a closing
bracket or a string literal (not inside strings or comments, not in a number
such as `1.5`). Query: `textDocument/completion` at that point, with nothing
typed after the dot, so the server lists every member. Allowed: the member
names, without keywords, snippets and anything that is not an identifier. It
gives up (no constraint) when the server fails, times out or knows nothing,
when its list is incomplete, and when it could not resolve the receiver and
listed members of types it guessed by name.

Member rules (on by default; `$MGD_MEMBER_RULES=off`, or a comma list of
`hidden`, `free`, `calls`, or the constructor choose them, see
`member_rules_setting`). The answer is a `base.Names`:

- `hidden` (Python only): where the receiver has members of its own, the
  members every object or class carries are left out unless the model is
  writing one. Hidden are the dunder names (`__x__`: what `object` and
  `type` contribute, `__module__`, `__init_subclass__`, ...), `mro` when the
  receiver is a class (jedi lists `type`'s `mro` and `__subclasses__`
  then), and on an Enum class (a class whose list also has Enum's
  `_member_map_` and `_value2member_map_`) Enum's own API: `name`, `value`
  and the `_sunder_` names. So after `Diet.` only the enum's members and
  the enum's own methods and attributes are shown; after an enum member
  (`Diet.CARNIVORE.`, a parameter `food: Diet`) nothing but dunders is
  hidden, and `.name`/`.value` stay. "The model is writing one", at token
  level: the row's best-scored token at the dot (its unconstrained first
  choice; for a token that writes the dot and the name start at once,
  `.__`, that token itself if it is the row's best) starts with `_`, or its
  identifier start leads only to hidden names (`m` where no shown member
  starts with `m`, for `mro`). Then every listed name is allowed, else only
  the shown ones, for the whole name. Where every member is hidden (the
  receiver has nothing of its own: a method's `__name__`, `__call__`, ...,
  an instance of an empty class), a row not headed for one is left
  unconstrained (rule `free`): the mask could only push it into a dunder
  chain (`catalogue.lookup_isbn.__init_subclass__`); without `free`
  nothing is hidden there. JDT.LS lists no such
  members: after `Diet.` of a Java enum it offers the constants, `values`,
  `valueOf` and `class` only, and Object's `getClass`, `hashCode`, `wait`,
  `notify` are real methods on every instance; Java hides nothing.
- `no_call` (Java): a field (kind Field, EnumMember or Constant) that is no
  method's name in the same list (`size` as field and method stays free):
  Java cannot call a field, so `(` may not follow it.
- `checked` (Python): a `(` may not follow a Variable or Property once the
  server says its value's type is int, bool, float, str, bytes, list, dict,
  tuple or set (jedi's members after `receiver.name.` are exactly the
  members it lists for a literal of that type) or that it is an enum
  member whose enum defines no `__call__` (`value_not_callable`,
  `mgd.monitors.python.values`). A class instance, a union, a `Callable`,
  anything jedi cannot infer: free. The question is asked only where a
  token writing that `(` is within the guide's merge margin of the row's
  best.
"""

from __future__ import annotations

import keyword
import os
import re

from mgd.monitors.base import Document, Monitor, Names, Trigger
from mgd.monitors.completion_memo import completions_at

# LSP CompletionItemKind values that never name a member.
_KEYWORD, _SNIPPET = 14, 15
_IDENTIFIER = re.compile(r"^[^\W\d][\w$]*$")
_NAME_END = re.compile(r"[<(\s]")
_RULES = ("hidden", "free", "calls")


def member_rules_setting(value: str | None = None) -> frozenset[str]:
    """The member rules in force: `$MGD_MEMBER_RULES` (or `value`) as "on" (default), "off", or a comma list of "hidden", "free", "calls"."""
    text = (os.environ.get("MGD_MEMBER_RULES", "on") if value is None else value).strip().lower()
    if text in ("", "on", "1", "true", "yes", "all"):
        return frozenset(_RULES)
    if text in ("off", "0", "false", "no", "none"):
        return frozenset()
    chosen = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = chosen - set(_RULES)
    if unknown:
        raise ValueError(f"MGD_MEMBER_RULES: unknown rule {', '.join(sorted(unknown))}; use on, off or {', '.join(_RULES)}")
    return chosen


_OPERATORS = frozenset("+-*/%@&|^<>~")


def grouped_arithmetic(text: str) -> bool:
    """True if the receiver of the dot ending `text` is a bracketed group holding an operator: `(a * b).`, not `f(a * b).`.

    Python operators are overloaded (numpy, pandas, pathlib's `/`): what such
    a group evaluates to is the server's guess from its operands' types.
    """
    body = text[:-1].rstrip()
    i = opening_bracket(body, len(body) - 1) if body.endswith(")") else None
    if i is None:
        return False
    before = body[:i].rstrip()
    word = re.search(r"\w+$", before)
    # `f(...)` and `x[0](...)` are calls; `return (...)`, `not (...)` are groups
    called = bool(before) and (before[-1] in ")]" or (word is not None and not keyword.iskeyword(word.group(0))))
    return not called and any(c in _OPERATORS for c in body[i + 1 : -1])


def opening_bracket(text: str, close: int) -> int | None:
    """The index of the bracket that `text[close]` closes (None if unbalanced); strings are not looked into."""
    depth = 0
    for i in range(close, -1, -1):
        ch = text[i]
        if ch in ")]}":
            depth += 1
        elif ch in "([{":
            depth -= 1
            if depth == 0:
                return i
    return None


def closing_bracket(text: str, opening: int) -> int | None:
    """The index of the bracket that closes `text[opening]` (None if it stays open); strings are not looked into."""
    depth = 0
    for i in range(opening, len(text)):
        if text[i] in "([{":
            depth += 1
        elif text[i] in ")]}":
            depth -= 1
            if depth == 0:
                return i
    return None


def narrowed(text: str, window: int = 3000) -> bool:
    """True if the receiver of the dot ending `text` was narrowed shortly before: a plain name tested with
    `isinstance(name, ...)`, or any receiver tested with `hasattr(receiver, ...)`.

    any-llm-sdk writes `hasattr(response.output[-1], "content") or not
    response.output[-1].content`: the checker takes the attribute as there,
    jedi lists the declared type's members without it.
    """
    recent = text[-window:]
    found = re.search(r"(?<![\w.])([A-Za-z_]\w*)\.$", text)
    if found is not None and re.search(rf"isinstance\(\s*{re.escape(found.group(1))}\s*,", recent):
        return True
    receiver = _compact(text[:-1])
    for match in re.finditer(r"(?<![\w.])hasattr\(", recent):
        subject = _first_argument(recent, match.end())
        if subject and receiver.endswith(subject) and not re.match(r"[\w.]", receiver[-len(subject) - 1 : -len(subject)] or " "):
            return True
    return False


def _first_argument(text: str, start: int) -> str | None:
    """The first argument of the call whose `(` ends just before `start`, without spaces; None if it does not end in `text`."""
    depth = 0
    for i in range(start, len(text)):
        ch = text[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                return None
            depth -= 1
        elif ch == "," and depth == 0:
            return _compact(text[start:i])
    return None


def _compact(code: str) -> str:
    """`code` with spaces only where they part two words (`not  x . y` → `not x.y`)."""
    return re.sub(r"\s*([^\w\s])\s*", r"\1", re.sub(r"\s+", " ", code)).strip()


def item_name(item) -> str:
    """The name a completion item stands for: its filter text (JDT.LS labels read `length() : int`), else its label.

    JDT.LS filter texts of generic types carry their parameters (`List<E>`): only the name counts.
    """
    text = (getattr(item, "filter_text", "") or item.label).strip()
    return _NAME_END.split(text, 1)[0]


def partial_python_list(names, text: str) -> bool:
    """True if jedi's member list at the dot ending `text` cannot be all a Python receiver has: it includes
    `__getattr__`, or no dunder at all outside an import line (`from pkg.` lists modules, which have none).

    With `__getattr__` the receiver answers names no list holds (a `Mock`,
    a proxy, a module's `__getattr__`): jedi infers an unannotated parameter
    from the project's calls, tests included, and smolagents' `self.logger`
    became a `MagicMock` whose list lacks the real logger's `log`. Every
    object jedi lists has dunders (`__class__`; a module `__name__`), but a
    `TypedDict` called as a class (pydantic's `model_config =
    ConfigDict(...)`) is listed by its keys alone, without the dict's `get`.
    """
    if "__getattr__" in names:
        return True
    line = text[text.rfind("\n") + 1 :]
    return not re.match(r"\s*(?:from|import)\s", line) and not any(n.startswith("__") and n.endswith("__") for n in names)


def own_names(items) -> frozenset[str]:
    """The member names the server itself lists, without those the type checker added (`LanguageServerSession._add_checked_members`).

    What a list says of its receiver (a partial list, a builtin's or an
    enum member's exact set) is read from these: the checker's additions
    depend on whether it answered in time.
    """
    return member_names(items) - getattr(items, "added", frozenset())


def member_names(items) -> frozenset[str]:
    """Member names from completion items: identifiers only, no keywords or snippets."""
    names = set()
    for item in items:
        if item.kind in (_KEYWORD, _SNIPPET):
            continue
        label = item_name(item)
        if _IDENTIFIER.match(label):
            names.add(label)
    return frozenset(names)


_AT_DOT = Trigger()


class DereferenceMonitor(Monitor):
    """Constrains the identifier after a member-access dot to real members.

    `hide_inherited`, `free_bare` and `check_calls` switch the member rules
    of the module docstring (rules `hidden`, `free`, `calls`; None: as
    `$MGD_MEMBER_RULES` says, all on by default). `free_bare` leaves a
    receiver with nothing of its own unconstrained for a row not headed for
    a dunder; without it such a receiver hides nothing.
    """

    name = "deref"

    def __init__(
        self, hide_inherited: bool | None = None, check_calls: bool | None = None, free_bare: bool | None = None
    ) -> None:
        chosen = (hide_inherited, check_calls, free_bare)
        rules = member_rules_setting() if None in chosen else frozenset()
        self.hide_inherited = "hidden" in rules if hide_inherited is None else hide_inherited
        self.check_calls = "calls" in rules if check_calls is None else check_calls
        self.free_bare = "free" in rules if free_bare is None else free_bare

    def trigger(self, state, line: str) -> Trigger | None:
        """Fires when the text ends with a member-access dot in code."""
        return _AT_DOT if state.at_dereference else None

    def allowed_names(self, session, document: Document, generated: str) -> frozenset[str] | None:
        """Members the server lists at the dot (a `Names` with the member rules), or None when it has none to offer."""
        text = document.prefix + generated
        if getattr(session, "language", "python") == "python" and (grouped_arithmetic(text) or narrowed(text)):
            # jedi's type for `(255 - array * 255).` is a guess (int), numpy's operators say otherwise; and it
            # does not narrow `node` after `isinstance(node, NodeStep) and`: the list would be the wider type's
            return None
        items = completions_at(session, document.path, text + document.suffix, len(text))
        if not items or getattr(items, "is_incomplete", False):  # a partial list would forbid real members
            return None
        if getattr(items, "receiver_guessed", False):  # members of same-named types, not of the receiver's
            return None
        names = member_names(items)
        if not names or (getattr(session, "language", "python") == "python" and partial_python_list(own_names(items), text)):
            return None
        if not (self.hide_inherited or self.check_calls):
            return names
        no_call, checked, hidden = _language_rules(getattr(session, "language", "python"))(items, names)
        if hidden and _SUPER_DOT.search(text):
            # `super().__init__(...)` is how code calls it: on PragmaticCode-Py shard 1, hiding it
            # there turned the one right `super().__init__` into a wrong name
            hidden = hidden - {"__init__"}
        if hidden == names and not self.free_bare:
            hidden = frozenset()  # nothing of its own: the dunders are all there is
        return Names(
            names,
            no_call=no_call if self.check_calls else (),
            checked=checked if self.check_calls else (),
            hidden=hidden if self.hide_inherited else (),
        )

    def value_not_callable(self, session, document: Document, generated: str, name: str) -> bool:
        """True if the server says the value of member `name` after `prefix + generated` (ending with its dot) is never callable.

        Python: jedi's members after `receiver.name.` are exactly those of a
        literal int, bool, float, str, bytes, list, dict, tuple or set. False
        whenever the server does not say so (no answer, anything else).
        """
        if not self.check_calls or getattr(session, "language", "python") != "python":
            return False
        from mgd.monitors.python.values import not_callable

        text = document.prefix + generated + name + "."
        items = session.completions(document.path, text + document.suffix, len(text))
        if not items or getattr(items, "is_incomplete", False):
            return False
        return not_callable(session, own_names(items))


_SUPER_DOT = re.compile(r"\bsuper\([^()]*\)\s*\.$")  # text ending at `super().` or `super(Cls, self).`


def _language_rules(language: str):
    """The function giving (no_call, checked, hidden) from a language server's member items."""
    if language == "java":
        from mgd.monitors.java.monitors import member_rules
    else:
        from mgd.monitors.python.members import member_rules
    return member_rules
