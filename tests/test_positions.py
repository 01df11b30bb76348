"""LSP positions (UTF-16 columns) and the single edit pushed to the server."""

from hypothesis import given
from hypothesis import strategies as st

from mgd.lsp.positions import line_column_to_offset, offset_to_position, single_edit


def test_utf16_columns_count_surrogate_pairs():
    text = "a = '😀é'\nb."
    assert offset_to_position(text, text.index("'", 5)) == {"line": 0, "character": 8}
    assert offset_to_position(text, len(text)) == {"line": 1, "character": 2}


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
