"""Where a dot opens a member access, and where it does not."""

import pytest

from mgd.monitors.python.lexer import scan


@pytest.mark.parametrize(
    "text",
    [
        "obj.",
        "self.items.",
        "f(x).",
        "a[0].",
        "{}.",
        '"abc".',
        "''.",
        '"""doc""".',
        "x = 'a#b'\ny.",
        "# comment\nobj.",
        "s = 'it\\'s'\nobj.",
        "v = 1.5 + obj.",
        "None.",
        "returned.",
        "match.",
        "definition.",
        "self.def_.",
    ],
)
def test_member_access_dot_triggers(text):
    assert scan(text).at_dereference


@pytest.mark.parametrize(
    "text",
    [
        "x = 1.",
        "x = 1.5",
        "x = 0x1f.",
        "# obj.",
        "y = 2  # see obj.",
        "'obj.",
        '"obj.',
        '"""doc\nobj.',
        "'''\nobj.",
        "from .",
        "from ..",
        "x = ...",
        "obj. ",
        "obj.name",
        "f'{obj.",
        "def.",
        "    return.",
        "x = not.",
    ],
)
def test_other_dots_do_not_trigger(text):
    assert not scan(text).at_dereference


def test_unterminated_single_quote_string_ends_at_line_end():
    assert scan("x = 'abc\nobj.").at_dereference


def test_incremental_scan_equals_whole_scan():
    text = 'def f(self):\n    """Doc. with dots."""\n    s = "a.b" # c.d\n    return self.'
    state = scan("")
    for i in range(len(text)):
        state = state.step(text[i])
    assert state == scan(text)
    assert state.at_dereference
