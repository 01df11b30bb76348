"""`mgd serve`'s buffers, positions, workspace checks and settings (no server process needed)."""

from __future__ import annotations

import pytest

from mgd.server.documents import DocumentError, DocumentStore, WorkspaceFolders, position_to_offset, uri_to_path
from mgd.server.main import parse_address
from mgd.server.settings import Settings, update_settings


def test_positions_count_utf16_units_and_refuse_past_the_line_end():
    text = "a😀b\r\nsecond\nthird"
    assert position_to_offset(text, 0, 3) == 2  # the emoji is two UTF-16 units, one Python character
    assert position_to_offset(text, 0, 4) == 3
    assert position_to_offset(text, 0, 2) == 1  # inside the surrogate pair: before the character
    assert position_to_offset(text, 1, 0) == text.index("second")
    assert position_to_offset(text, 1, 6) == text.index("\nthird")  # the line's end
    with pytest.raises(DocumentError, match="character 99 is past the end of line 1"):  # as a line past the end
        position_to_offset(text, 1, 99)
    assert position_to_offset(text, 2, 5) == len(text)
    assert position_to_offset(text, 0, 4, "utf-8") == 1  # the emoji is four UTF-8 bytes
    assert position_to_offset(text, 0, 2, "utf-32") == 2
    with pytest.raises(DocumentError, match="line 3 is outside the document"):
        position_to_offset(text, 3, 0)
    with pytest.raises(DocumentError, match="non-negative"):
        position_to_offset(text, -1, 0)


def test_incremental_edits_follow_the_editor(tmp_path):
    store = DocumentStore()
    uri = (tmp_path / "m.py").as_uri()
    store.open(uri, tmp_path / "m.py", "x = 1\ny = 😀\n", 1)
    store.change(uri, 2, [((1, 4, 1, 6), "'smile'")])  # replace the emoji (2 units)
    store.change(uri, 3, [((0, 0, 0, 0), "import os\n"), ((2, 0, 2, 1), "z")])  # applied in order
    assert store.get(uri).text == "import os\nx = 1\nz = 'smile'\n"
    assert store.get(uri).version == 3
    with pytest.raises(DocumentError):
        store.change(uri, 4, [((0, 0, 0, 1), "I"), ((40, 0, 40, 0), "bad")])
    assert store.get(uri).text == "import os\nx = 1\nz = 'smile'\n"  # a bad batch leaves the buffer as it was
    store.change(uri, 5, [(None, "whole\n")])
    assert store.get(uri).text == "whole\n"
    store.close(uri)
    with pytest.raises(DocumentError, match="is not open"):
        store.get(uri)


def test_only_documents_inside_declared_folders_are_served(tmp_path):
    inside, outside = tmp_path / "ws", tmp_path / "elsewhere"
    (inside / "pkg").mkdir(parents=True)
    outside.mkdir()
    (inside / "link").symlink_to(outside)
    folders = WorkspaceFolders()
    with pytest.raises(DocumentError, match="no workspace folder"):
        folders.root_for((inside / "a.py").as_uri())
    assert folders.add(inside.as_uri()) == inside.resolve()
    assert folders.add((tmp_path / "missing").as_uri()) is None
    assert folders.add("https://example.com/repo") is None
    root, path = folders.root_for((inside / "pkg" / "a.py").as_uri())
    assert (root, path) == (inside.resolve(), (inside / "pkg" / "a.py").resolve())
    for uri in (
        (outside / "b.py").as_uri(),
        inside.as_uri() + "/../elsewhere/b.py",  # `..` out of the folder
        (inside / "link" / "b.py").as_uri(),  # a symlink out of the folder
        "file:///etc/passwd",
    ):
        with pytest.raises(DocumentError, match="outside the workspace folders"):
            folders.root_for(uri)
    for uri in ("untitled:Untitled-1", "file://otherhost/x.py", "https://example.com/a.py"):
        with pytest.raises(DocumentError, match="not a local file URI"):
            folders.root_for(uri)
    assert uri_to_path((inside / "with space.py").as_uri()).name == "with space.py"
    assert folders.remove(inside.as_uri()) == inside.resolve()
    with pytest.raises(DocumentError):
        folders.root_for((inside / "pkg" / "a.py").as_uri())


def test_settings_take_good_values_and_name_bad_ones():
    settings, problems = update_settings(
        Settings(), {"mgd": {"maxNewTokens": 8, "temperature": 0.5, "monitors": ["deref", "args"], "guided": False}}
    )
    assert problems == []
    assert (settings.max_new_tokens, settings.temperature, settings.monitors, settings.guided) == (8, 0.5, "deref,args", False)
    again, problems = update_settings(
        settings, {"maxNewTokens": 0, "monitors": "deref,telepathy", "guided": "yes", "colour": "blue", "multiline": True}
    )
    assert again.multiline is True
    assert (again.max_new_tokens, again.monitors, again.guided) == (8, "deref,args", False)  # bad values keep the old ones
    assert len(problems) == 4
    assert any("telepathy" in p for p in problems) and any("'colour'" in p for p in problems)
    assert update_settings(settings, None) == (settings, [])
    assert update_settings(settings, [1, 2])[1]


def test_tcp_addresses():
    assert parse_address("8765") == ("127.0.0.1", 8765)
    assert parse_address(":8765") == ("127.0.0.1", 8765)
    assert parse_address("0.0.0.0:1") == ("0.0.0.0", 1)
    assert parse_address("[::1]:9000") == ("::1", 9000)
    for bad in ("host:", "host:port", "1:70000", ""):
        with pytest.raises(ValueError):
            parse_address(bad)
