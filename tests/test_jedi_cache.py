"""A torn file in jedi's parse cache (a writer killed mid-write) must not silently end guidance.

parso does not recover from a cache pickle cut short: every request reaching
that module fails with `EOFError: Ran out of input`. The session removes torn
files and asks once more. The end-to-end test tears the cache files a real
jedi-language-server wrote, in a private cache folder, and asks a new server.
"""

from __future__ import annotations

import pickle

from mgd.lsp.jedi_cache import read_a_torn_pickle, remove_torn_pickles, torn_pickles
from mgd.lsp.session import LanguageServerSession
from mgd.monitors.dereference import member_names

PREFIX = "from bookshop.models import Catalogue\n\n\ndef f(c: Catalogue):\n    return c."


def test_torn_files_are_found_by_their_end(tmp_path):
    folder = tmp_path / "CPython-311-33"
    folder.mkdir()
    whole = pickle.dumps({"module": list(range(1000))}, pickle.HIGHEST_PROTOCOL)
    (folder / "whole.pkl").write_bytes(whole)
    (folder / "torn.pkl").write_bytes(whole[: len(whole) // 2])
    (folder / "empty.pkl").write_bytes(b"")
    assert sorted(p.name for p in torn_pickles(tmp_path)) == ["empty.pkl", "torn.pkl"]
    assert sorted(p.name for p in remove_torn_pickles(tmp_path)) == ["empty.pkl", "torn.pkl"]
    assert [p.name for p in folder.iterdir()] == ["whole.pkl"]
    assert read_a_torn_pickle("EOFError: Ran out of input (-32603)")
    assert not read_a_torn_pickle("no such name")


def test_a_request_that_reads_a_torn_cache_file_is_asked_again(bookshop, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # servers started now keep their parse cache here
    path = bookshop / "bookshop" / "torn_cache.py"
    with LanguageServerSession(bookshop) as first:
        assert "lookup_isbn" in member_names(first.completions(path, PREFIX, len(PREFIX)))
    written = list((tmp_path / "jedi").glob("*/*.pkl"))
    assert written, "jedi wrote no parse cache"
    for cached in written:  # every module's file cut short, as by a kill mid-write
        cached.write_bytes(cached.read_bytes()[:100])
    with LanguageServerSession(bookshop) as second:  # a new process: nothing parsed in memory yet
        answer = second.completions(path, PREFIX, len(PREFIX))
        assert "lookup_isbn" in member_names(answer)
        assert second.failed_requests == 0
    assert not torn_pickles(tmp_path / "jedi")
