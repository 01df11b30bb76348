"""Java facts for the `types` monitor (`mgd.monitors.types`): what a place expects, what a member gives, and whether it fits.

Expected type, read from the text before the receiver (comments and strings
blanked by the evaluation lexer):

- `Type name = recv.` (a local, a field, a `for` initialiser): `Type`;
  `name = recv.` / `this.name = recv.`: the type of the nearest declaration
  `Type name` before it in the file;
- `return recv.`: the return type of the innermost method around it
  (None inside a lambda, an initializer, or a `void` method or constructor);
- `call(a, recv.`: the parameter at that position from JDT.LS's signature
  help (one extra request) when there is a single signature and no
  varargs; for overloads (or varargs), per ending: the parameters of the
  overloads that can end the call after this argument (`)`), and of those
  that take more (`,`), a varargs parameter being unknown
  (`Expectation.ends`); `if (recv.` / `while (recv.`: `boolean`;
- after `&&`, `||`, `!`: `boolean`; after `-`, `*`, `/`, `%`, `<`, `>`,
  `<=`, `>=`: a number; after `+`, `==`, `!=`, `?`, `:`, or `=` with an
  unknown left side: some value.

Member types come from JDT.LS's labels at no extra request: `totalUnits() :
int`, `capacity : int`, `getClass() : Class<?>`, `class : Class<Crate>` (JDT.LS substitutes a
parameterised receiver's type arguments: `get(int) : String` on a
`List<String>`). A type variable (`T`, `E`), `var` and anything the label
does not spell are unknown: they fit.

Fits: equal raw types; `Object` takes every value; primitives by widening,
boxing and unboxing (`int` into `long`, `Integer` into `int`, `int` into
`Integer`, `Number`, `Comparable`, ...); `String` and the boxes are final,
so only themselves (and their own supertypes) fit; a project type fits a
project type when the project's `extends`/`implements` lead to it, and
no array type (an array fits only `Object`, `Cloneable`, `Serializable`
and, unjudged, other arrays); a
project type fits no other type when its hierarchy leaves the project only
through `Object`, `Throwable`, `Exception`, `RuntimeException`, `Enum`
or `Record` (whose supertypes are known: a project exception is no
`IOException`, a project enum no `Comparator`); `Class` is final too (`X.class`); a JDK
type that is neither primitive, box nor `String` fits any JDK type (no
hierarchy is asked: unknown). Types the project declares twice are unknown.
An `int` (or narrower) member where a `byte`, `short` or `char` (or its box)
goes is unknown: a constant field narrows there.

A `String` that does not fit is `NO_SUMS` (a sum that starts with it is
a `String`); a number that does not fit is `NO_SUMS` when no arithmetic result that
starts with it fits either (binary numeric promotion gives at least `int`
and at least the member's own type): a `long` or `double` where an `int` or
`Integer` goes, any number where a `boolean` goes.
"""

from __future__ import annotations

import pathlib
import re

from mgd.monitors.calls import argument_endings
from mgd.monitors.types import NO, NO_SUMS, DeclaredTypes, Expectation, enclosing_call, judged, receiver_start
from mgd.monitors.java.monitors import PRIMITIVES, closed_call

_WIDER = {
    "byte": {"short", "int", "long", "float", "double"},
    "short": {"int", "long", "float", "double"},
    "char": {"int", "long", "float", "double"},
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "double": set(),
    "boolean": set(),
}
BOXES = {"int": "Integer", "long": "Long", "short": "Short", "byte": "Byte", "char": "Character",
         "float": "Float", "double": "Double", "boolean": "Boolean"}  # fmt: skip
_UNBOX = {box: prim for prim, box in BOXES.items()}
_BOX_SUPERS = frozenset({"Object", "Comparable", "Serializable", "Constable", "ConstantDesc"})
# Every supertype of the final JDK types the rules know: nothing else can hold their values.
_FINAL_SUPERS = {
    **{box: _BOX_SUPERS | {"Number"} for box in ("Integer", "Long", "Short", "Byte", "Float", "Double")},
    "Boolean": frozenset({"Object", "Comparable", "Serializable", "Constable"}),
    "Character": frozenset({"Object", "Comparable", "Serializable", "Constable"}),
    "String": _BOX_SUPERS | {"CharSequence"},
    # `X.class`: JDT.LS lists it as a field `class : Class<X>`
    "Class": frozenset({"Object", "Serializable", "GenericDeclaration", "Type", "AnnotatedElement", "TypeDescriptor", "OfField", "Constable"}),
}
# JDK classes a project type often extends, with all their supertypes: a project exception
# (`class HttpException extends Exception`) is then known to be no `IOException`.
_JDK_ROOTS = {
    "Object": frozenset({"Object"}),
    "Serializable": frozenset({"Serializable"}),
    "Throwable": frozenset({"Throwable", "Object", "Serializable"}),
    "Exception": frozenset({"Exception", "Throwable", "Object", "Serializable"}),
    "RuntimeException": frozenset({"RuntimeException", "Exception", "Throwable", "Object", "Serializable"}),
    # every enum extends `Enum` and every record `Record` (`_declarations`): an enum is no `Comparator`
    "Enum": frozenset({"Enum", "Object", "Comparable", "Serializable", "Constable"}),
    "Record": frozenset({"Record", "Object"}),
}
NUMBER = "#number"  # an arithmetic operand: any primitive number or box
_PROMOTED = ("int", "long", "float", "double")  # binary numeric promotion's results, narrowest first
# A constant `int` (a `static final` field) narrows into these where its value is representable (JLS 5.2).
_CONSTANT_NARROWS = frozenset({"byte", "short", "char", "Byte", "Short", "Character"})
BOOLEAN = "boolean"

_KEYWORDS = frozenset(
    "abstract assert break case catch class const continue default do else enum extends final finally for goto if "
    "implements import instanceof interface native new package private protected public return static strictfp "
    "super switch synchronized this throw throws transient try var void volatile while yield record sealed permits".split()
)
_TYPE = r"[A-Za-z_$][\w$.]*(?:\s*<[^;=(){}]*>)?(?:\s*\[\s*\])*"
_DECLARATION = re.compile(rf"(?:^|[;{{}}(,]|\bfinal|\bstatic|\bprivate|\bpublic|\bprotected|\bvolatile|\btransient)\s*(?P<type>{_TYPE})\s+(?P<name>[A-Za-z_$][\w$]*)\s*$")
_PLAIN_TARGET = re.compile(r"(?:^|[;{}]|\))\s*(?:this\s*\.\s*)?(?P<name>[A-Za-z_$][\w$]*)\s*$")
_METHOD_HEADER = re.compile(
    rf"(?P<type>{_TYPE})\s+(?P<name>[A-Za-z_$][\w$]*)\s*\((?P<params>[^;{{}}]*)\)\s*(?:throws\s+[\w$.,\s]+)?$"
)
_CONTROL = re.compile(r"(?:^(?:else\s+)?(?:if|for|while|switch|catch|synchronized|try)\s*\(.*\)|\b(?:else|try|finally|do|static))\s*$", re.S)
_LABEL_TYPE = re.compile(r"\)\s*:\s*(?P<method>.+)$|^[^()]*:\s*(?P<field>.+)$")


def expectation(session, document, text: str) -> Expectation | None:
    """What the Java expression ending at the dot that ends `text` must give (None: no opinion)."""
    code = _blank(text)
    start = receiver_start(code, "_$")
    if start is None:
        return None
    before = code[:start].rstrip()
    if re.search(r"\bnew$", before):  # `new Crate(3).`: the receiver starts at `new`
        before = before[:-3].rstrip()
    if re.search(r"(?:^|[^\w$.])return$", before):
        found = _return_type(code[:start])
        return Expectation(found, "return") if found else None
    if before.endswith(("&&", "||")) or (before.endswith("!") and not before.endswith("!=")):
        return Expectation(BOOLEAN, "condition")
    if before.endswith(("<=", ">=")) or before and before[-1] in "-*/%<>" and not before.endswith(("->", "--", "++", "<<", ">>")):
        if before[-1:] in "<>" and not before.endswith(("<=", ">=")) and re.search(r"[\w$]\s*[<>]$", before) and not re.search(r"\s[<>]$", before):
            return None  # `List<` `Map<K,`: generics, not a comparison
        return Expectation(NUMBER, "operand")
    if before.endswith("=") and before[-2:-1] not in ("=", "!", "<", ">", "+", "-", "*", "/", "%", "&", "|", "^"):
        return _assigned(code, before[:-1].rstrip())
    if before.endswith(("(", ",")):
        return _argument(session, document, text, code, start)
    if before.endswith(":") and "?" not in before[max(before.rfind(c) for c in ";{}") + 1 :]:
        return None  # `default:`, `case A:`, a label: a statement follows (`mgd pragmaticcode truth`, commons-net)
    if before.endswith(("+", "==", "!=", "?", ":")) and not before.endswith(("++", "::")):
        return Expectation(None, "value")
    return None


def _assigned(code: str, target: str) -> Expectation:
    """The expectation at `target = recv.`: the declared type of the variable or field assigned, else some value."""
    match = _DECLARATION.search(target[-400:])
    if match and match.group("type") not in _KEYWORDS:
        return Expectation(_known(match.group("type")), "assignment")
    match = _PLAIN_TARGET.search(target[-400:])
    if match:
        declared = _declared_type(code[: len(target)], match.group("name"))
        if declared:
            return Expectation(declared, "assignment")
    return Expectation(None, "value")


def _declared_type(code: str, name: str) -> str | None:
    """The type every declaration `Type name` in `code` gives (a field, local or parameter); None if none or they differ."""
    found = {
        _known(match.group("type"))
        for match in re.finditer(rf"(?P<type>{_TYPE})\s+{re.escape(name)}\s*[;=,)]", code)
        if match.group("type") not in _KEYWORDS
    }
    return found.pop() if len(found) == 1 else None  # two declarations of that name: which one is meant is not known


def _argument(session, document, text: str, code: str, start: int) -> Expectation | None:
    """At `call(..., recv.`: `boolean` in `if (`/`while (`, the parameter's type for a single signature, else some value."""
    opened = enclosing_call(code, start)
    if opened is None:
        return None
    paren, position = opened
    head = code[:paren].rstrip()
    keyword = re.search(r"[\w$]+$", head)
    word = keyword.group(0) if keyword else ""
    if word in ("if", "while") and position == 0:
        return Expectation(BOOLEAN, "condition")
    if not keyword or word in _KEYWORDS and word not in ("this", "super"):
        return None  # a cast or grouping `(`, `for (`, `switch (`: no opinion
    answer = session.signature_help(document.path, closed_call(text[:start], document.suffix), start)
    overloads = overloads_of((answer or {}).get("signatures") or [])
    if not overloads:
        return Expectation(None, "value")
    if len(overloads) == 1 and not overloads[0][1]:  # one signature, no varargs: the parameter's own type
        types = overloads[0][0]
        found = types[position] if position < len(types) else None
        return Expectation(found, "argument") if found else Expectation(None, "value")
    # overloads or varargs: which parameter the value goes to depends on what follows it (`)` or `,`)
    endings = argument_endings(overloads, position)
    return Expectation(None, "argument of an overloaded call", ends=tuple(endings.items()))


def overloads_of(signatures: list[dict]) -> tuple[tuple[tuple[str | None, ...], bool], ...]:
    """Each JDT.LS signature's parameter types (None: unknown, varargs) and whether its last parameter is varargs; () if one is not described."""
    found = []
    for sig in signatures:
        params = sig.get("parameters") if isinstance(sig, dict) else None
        if not isinstance(params, list) or (not params and "()" not in str(sig.get("label", "()"))):
            return ()
        labels = [str(p.get("label", "")) if isinstance(p, dict) else "" for p in params]
        found.append((tuple(parameter_type(p) for p in params), bool(labels) and "..." in labels[-1]))
    return tuple(found)


def parameter_type(param) -> str | None:
    """A JDT.LS signature parameter's declared type (`String name` → `String`), as the rules compare it; None for varargs or unknown."""
    label = str(param.get("label", "")) if isinstance(param, dict) else ""
    if "..." in label or " " not in label.strip():
        return None
    return _known(label.strip().rsplit(" ", 1)[0])


# CompletionItemKind: Field, Variable, Constant; a method or type named alike is no value without more text
_VALUE_KINDS = frozenset({5, 6, 21})


def literal_type(text: str) -> str | None:
    """`int` for `32`, `long` for `32L`, `boolean` for `true`/`false`, `String` for `"a"`; None for any other text (hex, octal, floats, characters)."""
    if re.fullmatch(r"0|[1-9]\d*", text):
        return "int"
    if re.fullmatch(r'".*"', text, re.S):
        return "String"
    if re.fullmatch(r"(?:0|[1-9]\d*)[lL]", text):
        return "long"
    return BOOLEAN if text in ("true", "false") else None


def variable_types(session, items, text: str) -> dict[str, str]:
    """The declared type of each variable, parameter and field in `items` (JDT.LS labels `crates : List<Crate>`), where it is one known type.

    Java has no flow typing: a name holds its declared type wherever it is
    read. JDT.LS labels a lambda parameter it cannot infer `Object` too, so
    an `Object` is believed only for a parameter the enclosing method's
    header declares so (a lambda in it may not declare that name again).
    """
    from mgd.monitors.dereference import item_name

    seen: dict[str, set] = {}
    for item in items:
        if getattr(item, "kind", None) not in _VALUE_KINDS:
            continue
        match = _LABEL_TYPE.search(item.label or "")
        spelled = match.group("field") if match else None
        seen.setdefault(item_name(item), set()).add(_known(spelled) if spelled else None)
    named_object = any(types == {"Object"} for types in seen.values())
    declared_object = _parameters_declared_object(_blank(text)) if named_object else frozenset()  # the header is read only when needed
    return {
        name: types.pop() for name, types in seen.items()
        if len(types) == 1 and None not in types and ("Object" not in types or name in declared_object)
    }


def _return_type(code: str) -> str | None:
    """The declared return type of the method whose body holds the end of `code` (None if unknown, void or a lambda)."""
    match = _method_header(code)
    if match is None:
        return None
    found = match.group("type")
    return None if found == "void" else _known(found)


def _method_header(code: str) -> re.Match | None:
    """The header of the method whose body holds the end of blanked `code` (None in a lambda, a class body, a constructor, an initializer)."""
    end = len(code)
    while True:
        brace = _unclosed_brace(code, end)
        if brace is None:
            return None
        header = code[_statement_start(code, brace) : brace].strip()
        if header.endswith("->"):
            return None
        if _CONTROL.search(header):
            end = brace
            continue
        match = _METHOD_HEADER.search(header)
        if not match or match.group("name") in _KEYWORDS or match.group("type") in _KEYWORDS - {"void"}:
            return None
        return match


def _parameters_declared_object(code: str) -> frozenset[str]:
    """The parameters of the method around the end of blanked `code` that its header declares `Object` (no array, no varargs)."""
    match = _method_header(code)
    if match is None:
        return frozenset()
    found = set()
    for part in match.group("params").split(","):
        words = re.sub(r"@[\w$.]+(?:\([^)]*\))?", " ", part).split()  # annotations
        words = [w for w in words if w != "final"]
        if len(words) == 2 and words[0] in ("Object", "java.lang.Object"):
            found.add(words[1])
    return frozenset(found)


def _statement_start(code: str, end: int) -> int:
    """Where the header before `end` starts: after the last `;`, `{` or `}` outside brackets (so a `for (;;)` header stays whole)."""
    depth = 0
    for i in range(end - 1, -1, -1):
        ch = code[i]
        if ch == ")":
            depth += 1
        elif ch == "(":
            depth -= 1
        elif ch in ";{}" and depth <= 0:
            return i + 1
    return 0


def _unclosed_brace(code: str, end: int) -> int | None:
    """The index of the innermost `{` left open before `end`."""
    depth = 0
    for i in range(end - 1, -1, -1):
        if code[i] == "}":
            depth += 1
        elif code[i] == "{":
            if depth == 0:
                return i
            depth -= 1
    return None


# comments, text blocks, strings and character literals (an unclosed one runs to the end of its line)
_LITERALS = re.compile(r'//[^\n]*|/\*.*?(?:\*/|\Z)|"""(?:\\.|.)*?(?:"""|\Z)|"(?:\\.|[^"\\\n])*(?:"|$)|\'(?:\\.|[^\'\\\n])*(?:\'|$)', re.S | re.M)


def _blank(text: str) -> str:
    """`text` with comments, strings and character literals blanked out (same length, line breaks kept), so brackets in them do not count.

    A literal keeps its quotes: it is still a receiver (`"a".length()`).
    """

    def blank(match: re.Match) -> str:
        found = match.group(0)
        inner = re.sub(r"[^\n]", " ", found)
        if found[:1] in "\"'" and len(found) > 1:
            return found[0] + inner[1:-1] + found[-1]
        return inner

    return _LITERALS.sub(blank, text)


def _known(type_text: str | None) -> str | None:
    """A type as the rules compare it: raw (no type arguments), simple name, `[]` kept; None for `var` and type variables."""
    if not type_text:
        return None
    raw = type_text.strip()
    arrays = raw.count("[")
    while "<" in raw:
        cut = re.sub(r"<[^<>]*>", "", raw)
        if cut == raw:
            return None
        raw = cut
    raw = re.sub(r"\[\s*\]", "", raw).strip().rsplit(".", 1)[-1]
    if not re.fullmatch(r"[A-Za-z_$][\w$]*", raw) or raw == "var" or re.fullmatch(r"[A-Z][A-Z0-9]?", raw):
        return None
    return raw + "[]" * arrays


def member_types(session, items, names: frozenset[str]) -> dict[str, list[str | None]]:
    """Each member's type per overload, from JDT.LS's labels (`totalUnits() : int`); None where the label says none."""
    from mgd.monitors.dereference import item_name

    found: dict[str, list[str | None]] = {}
    for item in items:
        name = item_name(item)
        if name not in names:
            continue
        match = _LABEL_TYPE.search(item.label or "")
        spelled = (match.group("method") or match.group("field")) if match else None
        found.setdefault(name, []).append("void" if spelled and spelled.strip() == "void" else _known(spelled))
    return found


def verdict(expected: Expectation, member: str | None, root: str | None) -> str:
    """`VOID`, `NO`, `NO_SUMS` or `FITS` for a member of type `member` where `expected` holds (unknown types fit)."""
    found = judged(expected, member, "void", lambda want, given: _fits(want, given, hierarchy(root)))
    # a sum that starts with a `String` is a `String`: as unfit as its start
    return NO_SUMS if found == NO and (member == "String" or _sums_unfit(expected.type, member)) else found


def _sums_unfit(expected: str | None, member: str | None) -> bool:
    """True if no arithmetic result starting with a `member` value fits `expected` (numbers into numbers and booleans only)."""
    numeric = _UNBOX.get(member, member)
    if numeric not in PRIMITIVES or numeric == "boolean":
        return False
    promoted = numeric if numeric in _PROMOTED else "int"
    if expected in ("boolean", "Boolean"):
        return True
    target = _UNBOX.get(expected, expected) if expected not in _CONSTANT_NARROWS else None
    if target not in _PROMOTED:
        return False
    # a result is `promoted` or wider; a primitive target takes it by widening, a box only as its own primitive
    reachable = {promoted} | _WIDER[promoted]
    return target not in reachable


def _fits(expected: str, member: str, hierarchy: DeclaredTypes) -> bool | None:
    """True/False where the Java rules decide; None where they cannot (unknown types)."""
    if expected == member or expected == "Object":
        return True
    if any(hierarchy.declares(t) or hierarchy.ambiguous(t) for t in (expected, member) if t in _FINAL_SUPERS or t in _JDK_ROOTS):
        return None  # the project declares a type of that name (its own `Type`, `Class`): which one is meant is not known
    if "[]" in expected or "[]" in member:
        if member in PRIMITIVES or member in _FINAL_SUPERS or expected in PRIMITIVES or expected in _FINAL_SUPERS:
            return False if expected != "Object" else True
        if "[]" in member and expected in ("Cloneable", "Serializable"):
            return True  # every array's supertypes
        # an array is no project class or interface, nor is a project type an array
        if ("[]" in expected) != ("[]" in member) and hierarchy.declares(member if "[]" in expected else expected):
            return False
        return None
    if expected == NUMBER:
        numeric = _UNBOX.get(member, member)
        if numeric in PRIMITIVES:
            return numeric != "boolean"
        return _reference_fits(member, hierarchy, lambda m: False)
    if expected in _CONSTANT_NARROWS and member in ("byte", "short", "char", "int"):
        unboxed = _UNBOX.get(expected, expected)
        return True if member == unboxed or unboxed in _WIDER[member] else None  # a constant may narrow
    if expected in PRIMITIVES:
        unboxed = _UNBOX.get(member, member)
        if unboxed in PRIMITIVES:
            return unboxed == expected or expected in _WIDER[unboxed]
        return _reference_fits(member, hierarchy, lambda m: False)
    if member in PRIMITIVES:
        return expected in _FINAL_SUPERS.get(BOXES[member], ()) or expected == BOXES[member]
    if member in _FINAL_SUPERS:
        return expected in _FINAL_SUPERS[member]
    if expected in _FINAL_SUPERS:
        return _reference_fits(member, hierarchy, lambda m: False)
    if hierarchy.declares(expected):
        return _reference_fits(member, hierarchy, lambda m: expected in hierarchy.supertypes(m))
    if hierarchy.declares(member):
        supers = hierarchy.supertypes(member)
        outside = {t for t in supers if not hierarchy.declares(t)}
        if expected in supers.union(*(_JDK_ROOTS.get(t, ()) for t in outside)):
            return True
        # where the project's hierarchy leaves it only through `Exception` and the like, every supertype is known
        closed = all(t in _JDK_ROOTS and not hierarchy.ambiguous(t) for t in outside)
        return False if closed else None
    return None


def _reference_fits(member: str, hierarchy: DeclaredTypes, project_rule) -> bool | None:
    """For a reference `member` where only the project's hierarchy can decide: the rule for a project type, else no for a known JDK final type, else unknown."""
    if member in _FINAL_SUPERS or member in PRIMITIVES:
        return False
    if hierarchy.declares(member):
        return project_rule(member)
    if hierarchy.ambiguous(member):
        return None
    # a JDK or library type: it can hold no primitive, box, `String` or project type (no library extends the project)
    return False


def hierarchy(root: str | None) -> DeclaredTypes:
    """The project's Java types and their `extends`/`implements` (none without a root)."""
    files = pathlib.Path(root).rglob("*.java") if root else ()
    return DeclaredTypes.read(("java", root or ""), files, lambda text: _declarations(_blank(text)), "Object")


_DECLARES = re.compile(r"\b(class|interface|enum|record)\s+([A-Za-z_$][\w$]*)")


def _declarations(text: str):
    """(name, direct supertypes, type parameters) for each type declared in blanked Java source `text`."""
    for match in _DECLARES.finditer(text):
        if text[max(0, match.start() - 1) : match.start()] in (".", "@"):
            continue  # `Foo.class`, `@interface`
        kind, name = match.groups()
        brace = text.find("{", match.end())
        if brace < 0:
            continue
        header = text[match.end() : brace]
        params: set[str] = set()
        generic = re.match(r"\s*<(.*)", header, re.S)
        if generic:
            params = {m.group(1) for m in re.finditer(r"(?:^|,)\s*([A-Za-z_$][\w$]*)", _top_level(generic.group(1)))}
        flat = header
        while "<" in flat:
            cut = re.sub(r"<[^<>]*>", "", flat)
            if cut == flat:
                break
            flat = cut
        flat = re.sub(r"\([^)]*\)", "", flat)  # a record's components
        supers = set()
        for clause in re.finditer(r"\b(?:extends|implements)\s+([^{]*?)(?=\bimplements\b|\bpermits\b|$)", flat):
            supers |= {part.strip().rsplit(".", 1)[-1] for part in clause.group(1).split(",") if part.strip()}
        supers |= {"Enum"} if kind == "enum" else {"Record"} if kind == "record" else set()
        yield name, frozenset(supers), frozenset(params)


def _top_level(inner: str) -> str:
    """The text of a type-parameter list up to its closing `>`, with nested `<...>` removed."""
    depth, out = 1, []
    for ch in inner:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
            if depth == 0:
                break
        elif depth == 1:
            out.append(ch)
    return "".join(out)
