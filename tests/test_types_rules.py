"""The `types` monitor's rules without a server: where an expression ends, what a place expects, what fits."""

from __future__ import annotations

import pytest

from mgd.decoding.chain_rules import BAD, CLOSE, COMMA, SUMS, ChainRules, advance
from mgd.monitors.calls import argument_endings
from mgd.decoding.token_index import NameTrie, token_index_for
from mgd.monitors.base import Names
from mgd.monitors.java import types as java
from mgd.monitors.python import types as python
from mgd.monitors.types import FITS, NO, NO_CLOSE, NO_COMMA, NO_SUMS, VOID, DeclaredTypes, Expectation, by_ending, combined, receiver_start


def test_what_ends_the_expression():
    assert advance(0, ";", newline_ends=False) == BAD
    assert advance(0, "();", newline_ends=False) == BAD
    assert advance(0, "()", newline_ends=False) == 0  # the call closed: still waiting
    assert advance(0, "(a, (b)", newline_ends=False) == 1
    assert advance(1, "))", newline_ends=False) == BAD  # closes the member's call and the one around it
    assert advance(0, "().", newline_ends=False) is None  # a chain step
    assert advance(0, " >", newline_ends=False) is None  # an operand
    assert advance(0, "\n", newline_ends=False) == 0 and advance(0, "\n", newline_ends=True) == BAD
    assert advance(1, '")"', newline_ends=False) is None  # a string in the arguments: the rule gives up


@pytest.mark.parametrize(
    "text, after",
    [
        ("();", BAD),
        (" - 1;", BAD),  # `long - int` is a `long`
        ("() - this.buffer.length();", BAD),  # the other operand's dots and call are read through
        (" * (a + b(c, d)), x", BAD),  # its brackets too; the comma then ends the argument
        (" >> 3;", BAD),
        (" >>> 3)", BAD),
        (" / 2 % 3 & 4 ^ 5 | 6 << 1;", BAD),
        ("()\n    - 1;", BAD),
        (" - 1", SUMS + 1),  # still waiting, in an operand
        (" > 0 ? 1 : 0;", None),  # a comparison: a boolean now, a ternary may follow
        (" >= 0", None),
        (" <= 0", None),
        (" == 0", None),
        (" != 0", None),
        (" && b", None),
        (" || b", None),
        (" -= 1", None),  # an assignment
        (" >>= 1", None),
        (" = 1", None),
        (" // a comment", None),
        (" + \"s\";", BAD),  # a string operand: the sum is a String, no fitter than its start
        (' + "a\\"b" + x)', BAD),  # an escaped quote stays inside the string
        (' + "s".length();', BAD),
        (" + 'c';", None),  # a character literal: the rule gives up
        (' + "s', SUMS + 30),  # inside the string: still waiting
        ("().intValue();", None),  # a box's chain step
        (" instanceof Long", None),
        (" ? 1 : 2", None),
    ],
)
def test_sums_keep_the_rule_waiting_through_arithmetic(text, after):
    assert advance(SUMS, text, newline_ends=False) == after


def test_one_ending_is_banned_and_the_other_ends_the_rule():
    assert advance(CLOSE, ")", newline_ends=True) == BAD and advance(CLOSE, " );", newline_ends=True) == BAD
    assert advance(CLOSE, ", b)", newline_ends=True) is None  # the comma ends the argument: the rule is over
    assert advance(CLOSE, "\n    )", newline_ends=True) == BAD  # inside a call a line break ends nothing
    assert advance(CLOSE, "()", newline_ends=True) == CLOSE and advance(CLOSE, "())", newline_ends=True) == BAD
    assert advance(CLOSE, "(a, b", newline_ends=True) == CLOSE + 1
    assert advance(COMMA, ",", newline_ends=True) == BAD and advance(COMMA, ")", newline_ends=True) is None
    assert advance(COMMA, "().trim(),", newline_ends=True) is None  # a chain step: the rule is over
    assert advance(CLOSE, ' + "x")', newline_ends=True) is None  # an operator: the rule is over


def test_argument_endings_of_overloads():
    tags = ((("Crate",), False), (("String", "String"), False))
    assert argument_endings(tags, 0) == {")": ("Crate",), ",": ("String",)}
    assert argument_endings(tags, 1) == {")": ("String",), ",": ()}
    builder = ((("CodeBlock",), False), (("String", None), True))  # javapoet's `anonymousClassBuilder`
    assert argument_endings(builder, 0) == {")": ("CodeBlock", "String"), ",": ("String",)}  # the varargs may be empty
    assert argument_endings(builder, 3) == {")": (None,), ",": (None,)}
    verdict = lambda want, given: java.verdict(want, given, None)  # noqa: E731
    ends = tuple(argument_endings(tags, 0).items())
    assert by_ending(Expectation(None, "argument", ends=ends), ["String"], verdict) == NO_CLOSE
    assert by_ending(Expectation(None, "argument", ends=ends), ["int"], verdict) == NO
    assert by_ending(Expectation(None, "argument", ends=ends), ["String", "Crate"], verdict) == FITS  # overloads of the member
    assert by_ending(Expectation(None, "argument", ends=ends), [None], verdict) == FITS
    assert by_ending(Expectation(None, "argument", ends=ends), ["Crate"], verdict) == NO_COMMA  # no String: it may only end the call


def test_the_chain_bans_and_the_trie_agree(tokenizer):
    index = token_index_for(tokenizer)
    rules = ChainRules(index.token_bytes, index.end_ids, newline_ends=False)
    semicolon = tokenizer(";", add_special_tokens=False)["input_ids"][0]
    dot = tokenizer(".", add_special_tokens=False)["input_ids"][0]
    assert semicolon in rules.bad(0) and dot not in rules.bad(0) and index.end_ids[0] in rules.bad(0)
    names = Names({"getClass", "get"}, no_end={"getClass"})
    trie = NameTrie.build(names, no_end=names.no_end, rest_ends=rules.rest_ends())
    node = trie.follow(b"get")
    assert node.no_end is None and node.follow(b"Class").no_end is not None
    # from `get`, a token finishing `Class` and ending the statement is out; one going on with `.` is in
    mask = index.allowed_mask(node)
    assert (mask == index.scan_allowed(node)).all()


def test_receiver_start():
    assert receiver_start("int n = shelf.") == 8
    assert receiver_start("x = a.b(c, d(e))[0].") == 4
    assert receiver_start('s = "a.b".', "_") == 4
    assert receiver_start("x = (int) 1.") is None


@pytest.mark.parametrize(
    "line, expected",
    [
        ("int n = shelf.", "int"),
        ("private final List<Crate> crates = shelf.", "List"),
        ("if (a && !shelf.", java.BOOLEAN),
        ("int k = 3 * shelf.", java.NUMBER),
        ("boolean ok = a <= shelf.", java.NUMBER),
        ("Object o = x == shelf.", None),
    ],
)
def test_java_expectations_from_text(line, expected):
    found = java.expectation(None, None, "class A {\n  void f() {\n    " + line)
    assert found is not None and found.type == expected


def test_java_places_without_an_opinion():
    for line in ("shelf.", "for (Crate c : shelf.", "x -> shelf.", "List<shelf."):
        found = java.expectation(None, None, "class A {\n  void f() {\n    " + line)
        assert found is None or found.type is None, line
    assert java.expectation(None, None, "class A {\n  int f() {\n    Runnable r = () -> {\n      return shelf.") is None


def test_java_return_type_of_the_enclosing_method():
    text = "class A {\n  long f(int x) {\n    for (int i = 0; i < x; i++) {\n      if (x > 2) {\n        return shelf."
    assert java.expectation(None, None, text) == Expectation("long", "return")
    field = "class A {\n  private Crate top;\n  void f() {\n    top = shelf."
    assert java.expectation(None, None, field) == Expectation("Crate", "assignment")


def test_java_conversions():
    empty = DeclaredTypes({}, top="Object")
    fits = lambda expected, member: java._fits(expected, member, empty)  # noqa: E731
    assert fits("long", "int") and fits("double", "Integer") and fits("int", "Integer") and fits("Integer", "int")
    assert fits("int", "long") is False and fits("Long", "int") is False and fits("int", "boolean") is False
    assert fits("String", "int") is False and fits("int", "String") is False and fits("String", "Object") is False
    assert fits("Number", "int") and fits("Comparable", "String") and fits("CharSequence", "String")
    assert fits("List", "ArrayList") is None  # JDK hierarchy: unknown
    assert fits("int", "Class") is False  # no JDK type but the boxes unboxes
    project = DeclaredTypes({"Crate": frozenset(), "Heavy": frozenset({"Crate"})}, top="Object")
    assert java._fits("Crate", "Heavy", project) and java._fits("Heavy", "Crate", project) is False
    assert java._fits("Crate", "Class", project) is False
    assert fits("String", "Class") is False and fits("Type", "Class") and fits("Serializable", "Class")  # `X.class`
    # arrays: only Object, Cloneable, Serializable hold one; a project type is none
    assert java._fits("Crate[]", "Crate", project) is False and java._fits("Crate", "Crate[]", project) is False
    assert java._fits("Cloneable", "Crate[]", project) and java._fits("char[]", "String", project) is False
    assert java._fits("Object[]", "Crate[]", project) is None  # covariance: not judged
    # an enum extends `Enum`, whose supertypes are known: it is no `Comparator`
    enums = DeclaredTypes({"Size": frozenset({"Enum"}), "Mode": frozenset({"Enum", "Runnable"})}, top="Object")
    assert java._fits("Comparator", "Size", enums) is False and java._fits("Comparable", "Size", enums)
    assert java._fits("Comparator", "Mode", enums) is None  # it implements a JDK interface the rules do not know
    # a project type named like a JDK final type: which one a label means is not known
    own = DeclaredTypes({"Class": frozenset(), "Crate": frozenset()}, top="Object")
    assert java._fits("Crate", "Class", own) is None
    assert java.verdict(Expectation("int", "return"), "void", None) == VOID
    assert java.verdict(Expectation(None, "value"), "int", None) == FITS
    # a constant `int` field narrows into `short`, `char`, `byte` and their boxes: unknown, never a wrong mask
    assert fits("short", "int") is None and fits("Character", "int") is None and fits("short", "long") is False


def test_java_project_exceptions_are_known_through_the_jdk_classes_they_extend():
    # httpcomponents' `class HttpException extends Exception`: no `IOException`, so `fatalIOException(ex, ...)` cannot take it
    project = DeclaredTypes(
        {"CrateError": frozenset({"Exception"}), "Jammed": frozenset({"CrateError"}), "Listener": frozenset({"EventListener"})},
        top="Object",
    )
    fits = lambda expected, member: java._fits(expected, member, project)  # noqa: E731
    assert fits("IOException", "Jammed") is False and fits("Runnable", "CrateError") is False
    assert fits("Exception", "Jammed") and fits("Throwable", "CrateError") and fits("Serializable", "Jammed")
    assert fits("IOException", "Listener") is None  # it leaves the project through a JDK type the rules do not know
    shadowed = DeclaredTypes({"CrateError": frozenset({"Exception"}), "Exception": frozenset({"Base"}), "Base": frozenset()}, top="Object")
    assert java._fits("IOException", "CrateError", shadowed) is False  # the project's own `Exception`: its hierarchy decides
    assert java._fits("Base", "CrateError", shadowed)


@pytest.mark.parametrize(
    "expected, member, found",
    [
        ("int", "long", NO_SUMS),  # every `long ± x` is a long or wider
        ("int", "double", NO_SUMS),
        ("Integer", "long", NO_SUMS),
        ("int", "Long", NO_SUMS),  # unboxed, then promoted
        ("boolean", "int", NO_SUMS),  # arithmetic never gives a boolean (a comparison ends the rule)
        ("float", "double", NO_SUMS),
        ("Long", "int", NO),  # `n + 1L` is a long: a sum may fit
        ("String", "int", NO),  # `n + ""` is a String
        ("int", "boolean", NO),
        ("int", "String", NO_SUMS),  # a sum that starts with a String is a String
        ("Crate", "String", NO_SUMS),
        ("short", "long", NO),  # narrowing by constants is for `int` alone
        ("long", "int", FITS),
    ],
)
def test_java_numbers_whose_sums_cannot_fit(expected, member, found):
    assert java.verdict(Expectation(expected, "assignment"), member, None) == found


def test_python_conversions():
    bases = DeclaredTypes({"Crate": frozenset(), "Heavy": frozenset({"Crate"}), "Odd": frozenset({"Base"})})
    assert python.fits("int", "bool", bases) and python.fits("float", "int", bases) and python.fits("Crate", "Heavy", bases)
    assert python.fits("bool", "int", bases) is False and python.fits("str", "int", bases) is False
    assert python.fits("Crate", "str", bases) is False and python.fits("Heavy", "Crate", bases) is False
    assert python.fits("Crate", "Odd", bases) is None  # Odd's base comes from elsewhere
    assert python._known("Optional[int]") is None and python._known("None") == "None" and python._known("T") is None


def test_python_protocols_and_the_standard_library():
    bases = DeclaredTypes({"Sized": frozenset({"Protocol"}), "Agent": frozenset({"Sized"}), "Crate": frozenset()})
    assert python.fits("Sized", "int", bases) is None  # a protocol is structural
    assert python.fits("Agent", "int", bases) is False  # a class that implements one is not
    assert python.fits("Agent", "ReferenceType", bases) is False  # no standard-library class inherits a project class
    assert python.fits("Sized", "ReferenceType", bases) is None
    assert python.fits("Crate", "MagicMock", bases) is None  # `Any` among its bases: it may be anything
    assert python.fits("Crate", "Semaphore", bases) is None  # three in the standard library: not known by name


def test_overloads_combine():
    assert combined([VOID, VOID]) == VOID and combined([VOID, NO]) == NO and combined([NO, FITS]) == FITS
    assert combined([NO_SUMS, VOID]) == NO_SUMS and combined([NO_SUMS, NO]) == NO and combined([NO_SUMS, FITS]) == FITS


@pytest.mark.parametrize(
    "text, expected",
    [
        ("def f(b: Bay) -> bool:\n    if b:\n        return b.", Expectation("bool", "return")),
        ("class A:\n    async def f(self) -> int:\n        return self.", Expectation("int", "return")),
        ("def f(b) -> list[int]:\n    return b.", Expectation(None, "return")),  # unreadable: some value
        ("def f(b):\n    n: float = b.", Expectation("float", "assignment")),
        ("def f(b):\n    while not b.", Expectation(None, "condition")),
        ("def f(b) -> Optional[int]:\n    return b.", None),  # None fits
        ("def outer() -> int:\n    def inner():\n        return b.", None),  # inner says nothing
        ("def f(b) -> int:\n    return [b.", None),  # inside brackets
        ("def f(b) -> int:\n    b.", None),  # a statement
        # Black's layout: the header's `)` at the `def`'s indent does not hide the `def` (genai-prices' `extract_usage`)
        (
            "class S:\n    def extract(\n        self,\n        url: str | None = None,\n    ) -> types.Usage:\n"
            "        if url:\n            pass\n        return self.",
            Expectation("Usage", "return"),
        ),
        ("def f(\n    b: Bay,\n) -> dict[\n    str, int\n]:\n    return b.", Expectation(None, "return")),
        ("def f(\n    b,\n):\n    return b.", None),  # unannotated
        ("def f() -> int:\n    g(\n        1,\n    )\n    return b.", Expectation("int", "return")),  # a call in the body
        ("def outer() -> int:\n    def inner(\n        b,\n    ):\n        return b.", None),  # inner says nothing
        # a `1)` in a docstring closes nothing: the stray `(` above must not hide `f`
        ("x = '('\ndef f() -> int:\n    \"\"\"Steps:\n    1) load\n    \"\"\"\n    return b.", Expectation("int", "return")),
    ],
)
def test_python_expectations_from_text(text, expected):
    assert python.expectation(None, None, text) == expected


def test_one_completion_list_serves_both_monitors():
    from mgd.monitors.completion_memo import completions_at, is_latest

    class Session:
        completion_serial = 0

        def completions(self, path, text, offset):
            self.completion_serial += 1
            return [text, offset, self.completion_serial]

    session = Session()
    first = completions_at(session, "a.py", "x.", 2)
    assert completions_at(session, "a.py", "x.", 2) is first and is_latest(session, first)
    other = completions_at(session, "a.py", "y.", 2)
    assert other is not first and not is_latest(session, first)
    assert completions_at(session, "a.py", "x.", 2) is not first  # asked again: another list came in between


def test_literals_and_parameter_annotations():
    assert python.literal_type("32") == "int" and python.literal_type("1_000") == "int" and python.literal_type("True") == "bool"
    assert python.literal_type("0x1F") is None and python.literal_type("32abc") is None and python.literal_type("007") is None
    assert java.literal_type("32") == "int" and java.literal_type("32L") == "long" and java.literal_type("false") == "boolean"
    assert java.literal_type("0x1F") is None and java.literal_type("True") is None
    assert python.argument_type("tuple[int, int]") == "tuple" and python.argument_type("List[str]") == "list"
    assert python.argument_type("Crate") == "Crate" and python.argument_type("depot.bay.Crate") == "Crate"
    assert python.argument_type('"Agent"') == "Agent" and python.argument_type("'mcp.ClientSession'") == "ClientSession"
    # `typing.Text` is `str`; a bare `Text` may be it (imported) or a project's class: unknown
    assert python.argument_type("typing.Text") == "str" and python.argument_type("Text") is None
    for open_type in ("Optional[int]", "int | None", "Any", "Sequence[int]", "T", "Callable[[int], None]", "'Crate | None'"):
        assert python.argument_type(open_type) is None, open_type


def test_which_annotations_admit_none():
    for yes in ("Optional[Crate]", "Crate | None", "None | Crate", "Union[Crate, None]", "typing.Optional[int]", "'Crate | None'", "Any | None"):
        assert python.admits_none(yes), yes
    for no in ("Crate", "Callable[[int], None]", "list[Crate | None]", "Union[int, str]", "NoneType"):
        assert not python.admits_none(no), no


def test_a_def_headers_return_annotation():
    assert python._header_returns("def f(a) -> int: ...\n    def g() -> str | None:\n") == "int"  # a stub's one line
    assert python._header_returns("def f(\n    a,\n) -> dict[\n    str, int\n]:\n") == "dict[\n    str, int\n]"
    assert python._header_returns("async def f[T](a: T) -> T:  # note\n") == "T"
    assert python._header_returns("def f(a):\n    x: int = 1") is None


def test_the_function_that_can_narrow_a_name():
    text = "class A:\n    def f(self, n: int):\n        def g():\n            return self.x"
    assert text[python.outermost_def(text, len(text) - 6) :].startswith("    def f(")
    assert python.outermost_def("class A:\n    x = self.y", 19) is None  # a class body: no function
    black = "class A:\n    def f(\n        self,\n    ) -> int:\n        if x:\n            return self.x"
    assert black[python.outermost_def(black, len(black) - 6) :].startswith("    def f(")
    assert python.outermost_def("def f(\n    n,\n):\n    return n", 24) == 0
    header = "    def f(self, n: int,\n          m: str):\n        "
    assert python._only_in_an_enclosing_header(header, "m", 8)
    assert not python._only_in_an_enclosing_header(header + "if m:\n        ", "m", 8)  # named again: may be narrowed
    assert not python._only_in_an_enclosing_header("    def g(m: str): pass\n    ", "m", 4)  # a sibling's parameter
