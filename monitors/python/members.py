"""The member rules for jedi's answers after a dot (see `mgd.monitors.dereference`).

What jedi-language-server 0.41.3 (jedi 0.19.2) reports, with snippets and
eager resolution off as `lsp.session` starts it: each item has a label,
filterText and insertText equal to the name, a kind, and a sortText that is
only a letter for the name's shape plus the item's rank (`v` plain, `w`
`_x`, `x` `__x`, `y` `__x__`): no detail, nothing about where a member
comes from or what type it has. Kinds: Method (3) for functions and
methods, Variable (6) for attributes, instance variables, class constants
and enum members alike, Property (10) for properties (and `__class__`),
Class (7), Module (9). After a class (`Diet.`) jedi adds `type`'s members,
`mro`, `__subclasses__`, `__mro__`, `__bases__`, ...; after an Enum class
also Enum's `name`, `value` and `_sunder_` API (`_member_map_`,
`_value2member_map_`, `_missing_`, ...); after an enum member the same less
`type`'s.
"""

from __future__ import annotations

from mgd.monitors.dereference import item_name

_METHOD, _VARIABLE, _PROPERTY = 3, 6, 10
_VALUE_KINDS = frozenset({_VARIABLE, _PROPERTY})
# Members only a class has (from `type`): with `mro`, they tell a class receiver from an instance.
_CLASS_SIGNS = frozenset({"mro", "__subclasses__"})
# Enum's own API as jedi lists it after an Enum class: with them, the class is an Enum.
_ENUM_SIGNS = frozenset({"_member_map_", "_value2member_map_"})
_ENUM_API = frozenset({"name", "value"})


def is_dunder(name: str) -> bool:
    """`__x__`."""
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def is_sunder(name: str) -> bool:
    """`_x_` (Enum's reserved names), not a dunder."""
    return len(name) > 2 and name[0] == name[-1] == "_" and name[1] != "_" and name[-2] != "_"


def member_rules(items, names: frozenset[str]) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(no_call, checked, hidden) for jedi's member items after a dot; `names` are their member names."""
    kinds: dict[str, set[int]] = {}
    for item in items:
        kinds.setdefault(item_name(item), set()).add(item.kind)
    # a `(` after a variable or property depends on its value's type: asked where it matters
    checked = frozenset(n for n in names if kinds.get(n) and kinds[n] <= _VALUE_KINDS)
    hidden = {n for n in names if is_dunder(n)}
    if _CLASS_SIGNS <= names and _METHOD in kinds.get("mro", ()):
        hidden.add("mro")
        if _ENUM_SIGNS <= names:
            hidden |= _ENUM_API & names
            hidden |= {n for n in names if is_sunder(n)}
    return frozenset(), checked, frozenset(hidden)
