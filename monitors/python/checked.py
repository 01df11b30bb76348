"""What the type checker says of a value where it stands, for the Python rules of the `types` monitor.

jedi's facts are declarations: an annotation, a parameter not named since
its header. basedpyright (`mgd.lsp.checker`) gives the type a name or a
dotted name has at that point, narrowed (`None` after `if self._path is
None:`) and inferred (`ReferenceType[Agent]` for an attribute assigned
`weakref.ref(agent)` without an annotation), as it prints it. Here that text
is read into the class names the rules compare (`parts`), and an argument
is judged by them: a union is passed only if each of its members can be.
"""

from __future__ import annotations

import re

from mgd.monitors.python.arguments import split_top_level

__all__ = ["checked_type", "parts", "cannot_pass", "may_be_none"]

# what the checker prints for what it does not know, or for what is not one class
_UNKNOWN = re.compile(r"Unknown|Never|NoReturn|\bAny\b|@|->|\(|\.\.\.|^Self$|^type\[Self")
_NO_CLASS_ORIGINS = frozenset({"Literal", "Callable", "Union", "Optional", "Annotated", "TypeGuard", "TypeIs", "Unpack"})
_GENERIC = re.compile(r"(?P<origin>[A-Za-z_]\w*)\[.*\]", re.S)
_NAME = re.compile(r"[A-Za-z_]\w*")


def checked_type(session, document, text: str) -> str | None:
    """The checker's type of the name or dotted name that `text` (the document's text up to it) ends with; None: no answer."""
    from mgd.lsp.checker import checker_for

    checker = checker_for(session)
    if checker is None or not re.search(r"[A-Za-z_]\w*$", text[-200:]):
        return None
    # a line break keeps the rest of the file from running into the name
    return checker.type_at(document.path, text + "\n" + document.suffix, len(text))


def parts(printed: str) -> list[str | None]:
    """The class of each member of a union the checker printed (`str | None`: `str`, `None`); None for one the rules cannot name."""
    return [_class_of(part) for part in split_top_level(printed.strip(), "|")]


def _class_of(part: str) -> str | None:
    part = part.strip().rstrip("*")  # `int*`: an inferred type, the same class
    generic = _GENERIC.fullmatch(part)
    if generic and generic.group("origin") not in _NO_CLASS_ORIGINS:
        # `list[dict[str, Any] | None]` is a list whatever its items are (`Literal[...]` is read below)
        return generic.group("origin")
    if not part or _UNKNOWN.search(part):
        return None
    if part == "None":
        return "None"
    if part.startswith("Literal["):
        value = part[len("Literal[") : -1].strip()
        if "," in value:
            return None
        if value[:1] in "'\"":
            return "str"
        if value[:2] in ("b'", 'b"'):
            return "bytes"
        if value in ("True", "False"):
            return "bool"
        return "int" if re.fullmatch(r"-?\d+", value) else None  # an enum member: its class is not printed
    if part == "LiteralString":
        return "str"
    return part if _NAME.fullmatch(part) else None


def may_be_none(printed: str) -> bool | None:
    """True if the checker's type admits None (`TaskGroup | None`, `None`), False if it surely does not, None if it cannot be read."""
    found = parts(printed)
    if "None" in found:
        return True
    return None if None in found else False


def cannot_pass(expected: str, printed: str, root: str | None) -> bool:
    """True if a value the checker types `printed` surely cannot be passed where a parameter of type `expected` is.

    `expected` is read by `argument_type` (a class, or a builtin generic's
    origin; never one that admits None). Each member of a union must fit,
    so one that surely does not is enough. None is not judged: a condition
    written after the argument (`f(x) if x is not None else ...`) narrows
    it out, and the checker's type is the one before it.
    """
    from mgd.monitors.python.types import bases, fits

    declared = bases(root)
    for given in parts(printed):
        # None is never judged: `Text(data.url) if data.url is not None else ...` narrows it after the argument
        # is written (fastapi-cloud-cli; claude-code-sdk's `f(self.options.hooks) if self.options.hooks else None`)
        if given is None or given == "None":
            continue
        if fits(expected, given, declared) is False:
            return True
    return False
