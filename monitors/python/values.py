"""Which builtin type a value has, as far as jedi says: its members, compared with a literal's.

jedi's completion items carry no type (and its hover and resolved items name
the definition, `self.capacity_limit = capacity_limit`, not its type), but
the members it lists after `value.` are those of the type it infers. When
they are exactly the members it lists after a literal `(0).`, `''.`, `[].`
..., the value is of that type: an int is never callable. A union (`1 if c
else print`), `Optional[int]`, `Callable[...]`, a subclass or any class
instance lists other members and is not matched. The literals' members are
asked once per server, in a scratch document that exists only in its memory.
An enum member is the one class instance taken as not callable: jedi lists
Enum's instance API after it, and `__call__` only if the enum defines one.
"""

from __future__ import annotations

import os

from mgd.monitors.dereference import own_names

# Builtin types whose values are never callable, and a literal of each.
LITERALS = (
    ("int", "(0)"),
    ("bool", "True"),
    ("float", "(0.0)"),
    ("str", "''"),
    ("bytes", "b''"),
    ("list", "[]"),
    ("dict", "{}"),
    ("tuple", "()"),
    ("set", "set()"),
)
_PROBE = ".mgd-builtin-members.py"
_references: dict[tuple[int, int | None], dict[frozenset[str], str]] = {}


_ENUM_MEMBER_SIGNS = frozenset({"name", "value", "_name_", "_value_", "_member_map_", "_value2member_map_"})


def enum_member(members: frozenset[str]) -> bool:
    """True for the members jedi lists after an enum member (`Diet.CARNIVORE.`) whose class defines no `__call__`.

    jedi lists Enum's instance API there (`name`, `value`, `_value_`, ...) and,
    unlike after the class (`Diet.`), no `mro`; `__call__` would be listed
    if the enum defined one.
    """
    return _ENUM_MEMBER_SIGNS <= members and "mro" not in members and "__call__" not in members


def not_callable(session, members: frozenset[str]) -> bool:
    """True if `members` (listed after a value) show a value that is never callable: a builtin of `LITERALS` or an enum member."""
    return enum_member(members) or builtin_type(session, members) is not None


def builtin_type(session, members: frozenset[str]) -> str | None:
    """The builtin type (of `LITERALS`) whose members the server lists as exactly `members`, else None."""
    if not members:
        return None
    references = reference_members(session)
    return references.get(frozenset(members)) if references else None


def known_builtin(session, members: frozenset[str]) -> str | None:
    """`builtin_type`, but only from literals' members asked already: never a query."""
    references = _references.get((id(session), getattr(session, "pid", None)))
    return references.get(frozenset(members)) if references and members else None


def reference_members(session) -> dict[frozenset[str], str]:
    """Members the server lists after each literal of `LITERALS` (asked once per server; {} if it cannot say)."""
    key = (id(session), getattr(session, "pid", None))
    if key in _references:
        return _references[key]
    root = getattr(session, "root", None)
    found: dict[frozenset[str], str] = {}
    if root:
        lines = [literal + "." for _, literal in LITERALS]
        text = "\n".join(lines) + "\n"
        path = os.path.join(root, _PROBE)
        end = 0
        for (type_name, _), line in zip(LITERALS, lines):
            end += len(line)
            items = session.completions(path, text, end)
            end += 1
            if not items or getattr(items, "is_incomplete", False):
                continue
            found.setdefault(own_names(items), type_name)
    _references[key] = found
    return found
