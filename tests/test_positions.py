"""LSP positions (columns in UTF-16, UTF-32 or UTF-8 units; LSP's three line breaks) and the single edit pushed to the server."""

from hypothesis import given
from hypothesis import strategies as st

import pytest

from mgd.lsp.positions import line_column_to_offset, offset_to_position, single_edit


def test_utf16_columns_count_surrogate_pairs():
    text = "a = '😀é'\nb."
    assert offset_to_position(text, text.index("'", 5)) == {"line": 0, "character": 8}
    assert offset_to_position(text, len(text)) == {"line": 1, "character": 2}


def test_columns_in_each_position_encoding():
    line = 'tag = "🐧e\u0301"; return pingu.'
    assert offset_to_position(line, len(line), "utf-16")["character"] == len(line) + 1  # the penguin is two units
    assert offset_to_position(line, len(line), "utf-32")["character"] == len(line)  # code points
    assert offset_to_position(line, len(line), "utf-8")["character"] == len(line.encode("utf-8"))
    after_mark = line.index("\u0301") + 1
    assert offset_to_position(line, after_mark, "utf-32")["character"] == after_mark  # a combining mark is a code point


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_lines_end_at_lsps_three_line_breaks_only(eol):
    text = eol.join(["one", "two\f\u2028", "🐧."])
    assert offset_to_position(text, len(text), "utf-16") == {"line": 2, "character": 3}
    assert offset_to_position(text, text.index("two") + 5, "utf-32") == {"line": 1, "character": 5}
    assert offset_to_position(text, text.index("two"), "utf-16") == {"line": 1, "character": 0}
    assert line_column_to_offset(text, 3, 3) == len(text)
    assert line_column_to_offset(text, 1, 4) == 3  # the end of the line, before its break
    with pytest.raises(ValueError, match="column 5 is outside line 1 \\(it has 3 characters\\)"):
        line_column_to_offset(text, 1, 5)


def test_a_file_has_as_many_lines_as_an_editor_shows():
    twelve = "".join(f"line {i}\n" for i in range(12))
    with pytest.raises(ValueError, match="line 14 is outside the file \\(it has 12 lines\\)"):
        line_column_to_offset(twelve, 14, 1)
    assert line_column_to_offset(twelve, 13, 1) == len(twelve)  # after the last line break: the end of the file
    with pytest.raises(ValueError, match="it has 12 lines"):
        line_column_to_offset(twelve.rstrip("\n"), 13, 1)


def test_line_column_round_trip_and_bounds():
    text = "one\ntwo\n"
    assert line_column_to_offset(text, 2, 1) == 4
    assert line_column_to_offset(text, 2, 4) == 7  # just past the last character
    for line, column in ((0, 1), (4, 1), (1, 5), (1, 0)):
        try:
            line_column_to_offset(text, line, column)
        except ValueError:
            continue
        raise AssertionError(f"{line}:{column} accepted")


@given(st.text(alphabet="ab\n😀", max_size=30), st.text(alphabet="ab\n😀", max_size=30))
def test_single_edit_rebuilds_the_new_text(old, new):
    edit = single_edit(old, new)
    if old == new:
        assert edit is None
        return
    start, end, text = edit
    assert old[:start] + text + old[end:] == new


def test_completions_after_non_ascii_text(bookshop, session, list_members):
    path = bookshop / "bookshop" / "unicode.py"
    prefix = "greeting = 'héllo 😀 wörld'\nfrom bookshop.models import Book\n\ndef f(b: Book):\n    return b."
    assert "shelf_value_cents" in list_members(session, path, prefix, "\n")

