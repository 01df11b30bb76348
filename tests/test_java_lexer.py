"""The Java scanner: which dots are member accesses, and which words are identifiers."""

from __future__ import annotations

import pytest

from mgd.monitors.java.lexer import scan
from mgd.pragmaticcode.java.lexer import identifiers, tokens

DEREFERENCES = [
    ("book.", True), ("getBook().", True), ("books[0].", True), ('"abc".', True), ("this.", True),
    ("super.", True), ("Foo.class.", True), ("new Foo().", True), ("return book.", True),
    ("builder\n        .", True), ("x /* note */ .", True), ("x // note\n    .", True), ("a / b.", True),
    ('"""\n  text\n  """.', True),
]  # fmt: skip
NOT_DEREFERENCES = [
    "1.", "1.5.", ".5", "0x1.8p3", "1e-5.", "x = '.'", "x = '.", "// a.", "/* a. */", "/* a.", '"a.',
    '"a\\".', '"""\n a.', "return.", "new.", "String..", "case.", "int.",
]  # fmt: skip


@pytest.mark.parametrize("text,expected", DEREFERENCES)
def test_member_access_dots(text, expected):
    assert scan(text).at_dereference is expected


@pytest.mark.parametrize("text", NOT_DEREFERENCES)
def test_dots_that_are_not_member_accesses(text):
    assert not scan(text).at_dereference


def test_code_state_after_literals_and_comments():
    assert scan("x = 'a'; ").in_code
    assert not scan("x = \"a").in_code
    assert not scan("/* a").in_code
    assert scan("/* a */").in_code
    assert not scan("// a").in_code
    assert scan("// a\n").in_code
    assert not scan('s = """\n a "" b').in_code
    assert scan('s = ""').in_code


def test_identifiers_skip_keywords_literals_strings_and_comments():
    code = (
        'int x = foo.bar(1.5e3f, "s.t", \'c\'); // trailing words\n'
        "/* block words */ return this.baz_$ + y2 . z;\n"
        'String s = """\n  text "" block\n  """; s.length(); double d = 0x1.8p3 + abc; a/b;'
    )
    assert identifiers(code) == [
        "x", "foo", "bar", "baz_$", "y2", "z", "String", "s", "s", "length", "d", "abc", "a", "b",
    ]  # fmt: skip


def test_identifiers_of_a_fragment_that_ends_mid_string():
    assert identifiers('length() + "unfinished') == ["length"]


def test_tokens_read_operators_by_longest_match_and_literals_whole():
    code = 'a -> b::c; x >>>= 2; s = "a \\" b" + \'\\n\'; f(1.5e-3f, 0x1.8p3, .5, 10L); /* gone */ i++;'
    assert tokens(code) == [
        "a", "->", "b", "::", "c", ";", "x", ">>>=", "2", ";", "s", "=", '"a \\" b"', "+", "'\\n'", ";",
        "f", "(", "1.5e-3f", ",", "0x1.8p3", ",", ".5", ",", "10L", ")", ";", "i", "++", ";",
    ]  # fmt: skip


def test_tokens_of_an_unterminated_fragment_run_to_its_end():
    assert tokens('x = "open') == ["x", "=", '"open']
    assert tokens("x /* open") == ["x"]
