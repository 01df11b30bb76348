"""The Java monitors with the real JDT.LS and the real tokenizer: legal continuations pass, the rest are masked."""

from __future__ import annotations

import pathlib
import shutil
import time

import pytest
import torch

from mgd.decoding.guide import Guide
from mgd.decoding.processor import MGDLogitsProcessor
from mgd.decoding.warm_up import wait_for_warm_ups
from mgd.demo import example_repo
from mgd.lsp.session import LanguageServerSession
from mgd.monitors import default_monitors, monitors_by_name
from mgd.monitors.base import Document
from mgd.monitors.dereference import DereferenceMonitor
from mgd.monitors.java.monitors import EnumCaseMonitor, NewMonitor, java_signature
from mgd.monitors.java.lexer import scan

SHOP = "src/main/java/org/example/shop"


@pytest.fixture(scope="module")
def javashop(tmp_path_factory) -> pathlib.Path:
    """A private copy of the shipped Java example."""
    target = tmp_path_factory.mktemp("repos") / "javashop"
    shutil.copytree(example_repo().parent / "javashop", target)
    return target


@pytest.fixture(scope="module")
def jdtls(javashop):
    with LanguageServerSession(javashop, language="java") as running:
        yield running


@pytest.fixture(scope="module")
def report(javashop) -> tuple[str, str]:
    path = javashop / SHOP / "Report.java"
    return str(path), path.read_text()


def split_at(text: str, marker: str, cut: str = "") -> tuple[str, str]:
    """(text up to the end of `marker`, the rest after `cut` is removed from its start)."""
    at = text.index(marker) + len(marker)
    rest = text[at:]
    assert rest.startswith(cut)
    return text[:at], rest[len(cut) :]


def allowed_tokens(processor, tokenizer, path: str, prefix: str, suffix: str) -> set[bytes]:
    """The tokens the processor lets through right after `prefix`."""
    ids = tokenizer(prefix, add_special_tokens=False)["input_ids"]
    processor.clear_prompts()
    processor.add_prompt(ids, Document(path, prefix, suffix))
    assert wait_for_warm_ups(120)  # the `new` sweep the guide started in the background is done
    masked = processor(torch.tensor([ids]), torch.zeros(1, len(tokenizer)))
    return {processor.index.token_bytes[t] for t in torch.nonzero(masked[0] > float("-inf")).flatten().tolist()}


@pytest.fixture(scope="module")
def processor(tokenizer, jdtls):
    return MGDLogitsProcessor(tokenizer, jdtls)


def test_the_session_language_picks_the_java_monitors(processor):
    assert processor.language == "java"
    assert [m.name for m in default_monitors("java")] == ["deref", "args", "enums", "new", "types"]
    with pytest.raises(ValueError, match="unknown monitor imports"):
        monitors_by_name("deref,imports", "java")


def test_dereference_offers_members_from_another_file(processor, tokenizer, report):
    path, text = report
    prefix, suffix = split_at(text, "return catalogue.", "size()")
    allowed = allowed_tokens(processor, tokenizer, path, prefix, suffix)
    assert {b"size", b"find", b"restock"} <= allowed or {b"size", b"find"} <= allowed
    assert b"length" not in allowed and b"count" not in allowed and b"items" not in allowed
    # every allowed token that starts a name starts a real member of Catalogue
    members = ("size", "findBookByIsbn", "booksBy", "add", "restock", "equals", "hashCode", "toString", "getClass",
               "notify", "notifyAll", "wait")  # fmt: skip
    for data in allowed:
        assert any(m.encode().startswith(data) for m in members), data


def test_dereference_on_a_jdk_class_through_the_processor(processor, tokenizer, report):
    path, text = report
    prefix, suffix = split_at(text, 'return book == null ? "unknown" : book.', "getTitle()")
    prefix = prefix[: -len("book.")] + "book.getTitle()."
    allowed = allowed_tokens(processor, tokenizer, path, prefix, suffix)
    assert b"length" in allowed and b"substring" in allowed or b"sub" in allowed
    assert b"getTitle" not in allowed and b"size" not in allowed


def test_enum_constants_after_case(processor, tokenizer, report, jdtls):
    path, text = report
    prefix, suffix = split_at(text, 'return "A";\n            case ', "HISTORY")
    state = scan(prefix)
    line = prefix.rsplit("\n", 1)[1]
    assert EnumCaseMonitor().trigger(state, line) is not None
    names = EnumCaseMonitor().allowed_names(jdtls, Document(path, prefix, suffix), "")
    assert names is not None and {"HISTORY", "POETRY", "SCIENCE"} <= names
    assert "FICTION" not in names  # already a label of this switch: Java forbids it twice
    allowed = allowed_tokens(processor, tokenizer, path, prefix, suffix)
    assert b"H" in allowed or b"HIST" in allowed or b"HISTORY" in allowed
    assert not any(t.startswith((b"MON", b"RED", b"1", b"\"")) for t in allowed)


def test_case_over_a_non_enum_switch_is_free(jdtls, javashop):
    path = javashop / SHOP / "Numbers.java"
    source = "package org.example.shop;\nclass Numbers {\n  int f(int n) {\n    switch (n) {\n      case 1: return 2;\n      case "
    names = EnumCaseMonitor().allowed_names(jdtls, Document(str(path), source, "3: return 4;\n    }\n    return 0;\n  }\n}\n"), "")
    assert names is None


def test_new_offers_only_instantiable_classes(processor, tokenizer, report, jdtls):
    path, text = report
    prefix, suffix = split_at(text, "return new ", 'Magazine("m-1", "Monthly", 1, 10)')
    names = NewMonitor().allowed_names(jdtls, Document(path, prefix, suffix), "")
    assert names is not None and {"Magazine", "Book", "Report", "StringBuilder"} <= names
    assert "ArrayList" not in names  # Report.java does not import java.util: `new ArrayList` would not compile
    assert "Genre" not in names  # an enum of the project: `new` never builds one
    # the project's abstract class and interface: `new Item() { ... }` and `new Priced[2]` compile, `new Item();` not
    assert {"Item", "Priced"} <= names.no_end and "Magazine" not in names.no_end
    # an array of a primitive type (`new char[n]`), which JDT.LS does not offer after `new`
    assert {"char", "int", "byte"} <= names and {"char", "int"} <= names.no_end
    allowed = allowed_tokens(processor, tokenizer, path, prefix, suffix)
    assert any(b"Magazine".startswith(t) for t in allowed if t)
    assert b" char" in allowed or b"char" in allowed
    assert b"Gen" not in allowed and b"Genre" not in allowed
    after_call = _allowed_after(processor, tokenizer, path, prefix, suffix, "Item()")
    assert b";" not in after_call and b"\n" in after_call and b" {" in after_call
    assert b";" in _allowed_after(processor, tokenizer, path, prefix, suffix, 'Magazine("m", "M", 1, 2)')


def test_new_as_the_start_of_a_longer_name_is_free(processor, tokenizer, report):
    # `final int newlen = ...`: the text ends with `new`, but the word goes on (found by `mgd pragmaticcode truth`)
    path, text = report
    prefix, suffix = split_at(text, "        Book book = catalogue.findBookByIsbn(isbn);\n")
    prefix += "        int new"
    allowed = allowed_tokens(processor, tokenizer, path, prefix, suffix)
    assert b"len" in allowed and b"Value" in allowed
    assert any(b" Magazine".startswith(t) for t in allowed if t.startswith(b" ") and len(t) > 1)
    assert b" Genre" not in allowed and b" Gen" not in allowed  # after the space, still only what `new` builds
    after = _allowed_after(processor, tokenizer, path, prefix, suffix, "len")
    assert b" =" in after  # `newlen` is a name: nothing is constrained


def test_new_allows_a_class_written_after_its_sweep(report, jdtls, javashop, monkeypatch):
    # `mgd serve` keeps one monitor (and its sweep) for a whole editing session: a class written since must stay free
    import mgd.monitors.java.monitors as java_monitors

    monkeypatch.setattr(java_monitors, "_SCAN_EVERY", 0.0)  # look for saved files at every call
    path, text = report
    prefix, suffix = split_at(text, "return new ", 'Magazine("m-1", "Monthly", 1, 10)')
    monitor = NewMonitor()
    swept = monitor.allowed_names(jdtls, Document(path, prefix, suffix), "")
    assert swept is not None and "Pallet" not in swept and "Trolley" not in swept
    in_this_file = monitor.allowed_names(jdtls, Document(path, prefix, suffix + "\nclass Pallet {}\n"), "")
    assert "Pallet" in in_this_file
    saved = javashop / SHOP / "Trolley.java"
    saved.write_text("package org.example.shop;\n\npublic class Trolley {\n}\n")
    try:
        assert "Trolley" in monitor.allowed_names(jdtls, Document(path, prefix, suffix), "")
        elsewhere = javashop / "src/main/java/org/other"
        elsewhere.mkdir(parents=True)
        (elsewhere / "Cart.java").write_text("package org.other;\n\npublic class Cart {\n}\n")
        assert "Cart" not in monitor.allowed_names(jdtls, Document(path, prefix, suffix), "")  # not imported: no
    finally:
        saved.unlink()
        shutil.rmtree(javashop / "src/main/java/org/other", ignore_errors=True)
        java_monitors._scans.clear()  # the next tests see the project as it is again, not a 10-second-old scan


class _SlowServer:
    """JDT.LS with every completion delayed (fault injection: a large classpath's slow sweep)."""

    def __init__(self, session, delay: float) -> None:
        self._session, self._delay = session, delay

    def __getattr__(self, name):
        return getattr(self._session, name)

    def completions(self, *args, **kwargs):
        time.sleep(self._delay)
        return self._session.completions(*args, **kwargs)


def test_new_warmed_up_answers_without_asking_and_the_same_as_cold(report, jdtls):
    path, text = report
    prefix, suffix = split_at(text, "return new ", 'Magazine("m-1", "Monthly", 1, 10)')
    cold = NewMonitor().allowed_names(jdtls, Document(path, prefix, suffix), "")
    warm = NewMonitor()
    # warmed up at a prompt that ends at a member dot, as the evaluation's prompts do
    sent = jdtls.requests
    warm.warm_up(jdtls, Document(path, split_at(text, "return catalogue.", "size();")[0], suffix))
    assert jdtls.requests - sent == 26
    sent = jdtls.requests
    assert warm.allowed_names(jdtls, Document(path, prefix, suffix), "") == cold
    assert jdtls.requests == sent  # the sweep was made ahead: the step asks nothing


def test_a_guide_sweeps_for_new_in_the_background_and_leaves_new_free_meanwhile(tokenizer, report, jdtls):
    path, text = report
    prefix, suffix = split_at(text, "return new ", 'Magazine("m-1", "Monthly", 1, 10)')
    at_new = Document(path, prefix, suffix)
    cold = NewMonitor().allowed_names(jdtls, at_new, "")
    monitor, slow = NewMonitor(), _SlowServer(jdtls, delay=0.2)
    guide = Guide(tokenizer, slow, [monitor], language="java", prefetch=True)
    # the guide meets the server at a prompt ending at a member dot, as the evaluation's prompts do
    guide.add_prompt(tokenizer("x", add_special_tokens=False)["input_ids"], Document(path, split_at(text, "return catalogue.", "size();")[0], suffix))
    time.sleep(0.5)
    # the sweep (26 requests, over 5 s here) is under way: a step at `new ` is left free, not made to sweep again
    sent = jdtls.requests
    assert monitor.allowed_names(slow, at_new, "") is None
    assert jdtls.requests - sent <= 3  # only the background sweep's own requests went out meanwhile
    assert wait_for_warm_ups(120)
    sent = jdtls.requests
    assert monitor.allowed_names(slow, at_new, "") == cold
    assert jdtls.requests == sent  # swept ahead: the step asks nothing


def test_call_arity_follows_the_overloads(processor, tokenizer, report):
    path, text = report
    prefix, _ = split_at(text, "        return catalogue.", "size();")
    prefix += "restock("
    suffix = ");\n    }\n}\n"
    one = allowed_tokens(processor, tokenizer, path, prefix + '"sku"', suffix)
    assert b"," in one and b")" not in one and b");" not in one  # no overload takes one argument
    two = allowed_tokens(processor, tokenizer, path, prefix + '"sku", 3', suffix)
    assert b")" in two and b"," in two  # (String, int) ends here; (Item, int, boolean) goes on
    three = allowed_tokens(processor, tokenizer, path, prefix + "item, 3, true", suffix)
    assert b")" in three and b"," not in three


def test_call_arity_holds_where_the_rest_of_the_method_is_cut_away(processor, tokenizer, report):
    # the evaluation's document: the text after the cursor starts where the function ended, so nothing closes the
    # call. Inside a nested block and before an annotated method, JDT.LS's signature help then finds no call at a
    # bare `restock(` (javapoet's `type.emit(` before `@Override`) unless the request closes the call.
    path, text = report
    prefix = text[: text.index("        Book book = catalogue.")] + "        if (isbn == null) {\n            catalogue."
    suffix = '\n\n    @Override\n    public String toString() {\n        return "report";\n    }\n}\n'
    opened = allowed_tokens(processor, tokenizer, path, prefix + "restock(", suffix)
    assert b")" not in opened and b");" not in opened  # no overload of restock takes no argument
    assert b'"' in opened
    one = allowed_tokens(processor, tokenizer, path, prefix + 'restock("sku"', suffix)
    assert b"," in one and b")" not in one


def _allowed_after(processor, tokenizer, path: str, prefix: str, suffix: str, generated: str) -> set[bytes]:
    """The tokens the processor lets through once `generated` follows the prompt `prefix`, fed a token a step."""
    ids = tokenizer(prefix, add_special_tokens=False)["input_ids"]
    more = tokenizer(generated, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids + more) == prefix + generated
    processor.clear_prompts()
    processor.add_prompt(ids, Document(path, prefix, suffix))
    for step in range(len(more) + 1):
        masked = processor(torch.tensor([ids + more[:step]]), torch.zeros(1, len(tokenizer)))
    return {processor.index.token_bytes[t] for t in torch.nonzero(masked[0] > float("-inf")).flatten().tolist()}


def test_a_paren_token_right_after_a_member_name_is_judged_by_the_signature(tokenizer, report, jdtls):
    # `original.getHeaders().containsHeader(name)` for `getHeaders(String)`: the model writes the member's name, then
    # one token `()` or `();`; the call must be judged while the name is still being written, not only after a `(`
    processor = MGDLogitsProcessor(tokenizer, jdtls, monitors_by_name("deref,args", "java"))  # `types` would end no int in a Book
    path, text = report
    prefix, suffix = split_at(text, "        Book book = catalogue.", "findBookByIsbn(isbn);")
    allowed = _allowed_after(processor, tokenizer, path, prefix, suffix, "restock")
    assert b"(" in allowed and b'("' in allowed
    assert b"()" not in allowed and b"();" not in allowed  # no overload of restock takes no argument
    allowed = _allowed_after(processor, tokenizer, path, prefix, suffix, "size")
    assert b"()" in allowed and b"();" in allowed


def test_a_call_that_takes_no_argument_may_only_close(processor, tokenizer, report):
    path, text = report
    prefix, suffix = split_at(text, 'book == null ? "unknown" : book.getTitle(', ");")
    allowed = allowed_tokens(processor, tokenizer, path, prefix, suffix)
    assert b")" in allowed and b");" in allowed
    assert not {b"1", b"10", b"b", b"book", b'"', b"("} & allowed  # `getTitle(10))` could never compile


def test_java_signature_merges_overloads_and_varargs():
    format_overloads = [
        {"label": "format(String a, Object... b) : String", "parameters": [{"label": "String a"}, {"label": "Object... b"}]},
        {"label": "format(Locale l, String a, Object... b) : String",
         "parameters": [{"label": "Locale l"}, {"label": "String a"}, {"label": "Object... b"}]},
    ]  # fmt: skip
    sig = java_signature(format_overloads)
    assert not sig.takes(0) and sig.takes(1) and sig.takes(2) and sig.takes(7)
    sized = java_signature([{"label": "size() : int", "parameters": []}])
    assert sized.takes(0) and not sized.takes(1)
    assert java_signature([]) is None


_DEREF = DereferenceMonitor(hide_inherited=True, check_calls=True)  # the member rules on, whatever $MGD_MEMBER_RULES says


def allowed_after_name(tokenizer, jdtls, path: str, prefix: str, suffix: str, name: str) -> set[bytes]:
    """The tokens allowed once `name` is written after `prefix` (which ends with a dot), step by step."""
    processor = MGDLogitsProcessor(tokenizer, jdtls, [_DEREF])
    prompt = tokenizer(prefix, add_special_tokens=False)["input_ids"]
    written = tokenizer(name, add_special_tokens=False)["input_ids"]
    processor.add_prompt(prompt, Document(path, prefix, suffix))
    for step in range(len(written) + 1):
        out = processor(torch.tensor([prompt + written[:step]]), torch.zeros(1, len(tokenizer)))
    table = processor.index.token_bytes
    return {table[t] for t in torch.nonzero(out[0] > float("-inf")).flatten().tolist() if table[t]}


def test_a_field_takes_no_paren_unless_a_method_shares_its_name(tokenizer, jdtls, javashop):
    path = javashop / SHOP / "Book.java"
    text = path.read_text()
    prefix, suffix = split_at(text, "    public String describe() {\n        return ", "title")
    prefix += "this."
    names = _DEREF.allowed_names(jdtls, Document(str(path), prefix, suffix), "")
    # JDT.LS: `title : String` is a Field (5), `priceInCents` a Field and a Method (2)
    assert {"title", "author", "genre"} <= names.no_call and "priceInCents" not in names.no_call
    assert not names.hidden and not names.checked
    title = allowed_after_name(tokenizer, jdtls, str(path), prefix, suffix, "title")
    assert b"(" not in title and b"()" not in title and b" (" not in title
    assert {b" ", b";", b"."} <= title
    price = allowed_after_name(tokenizer, jdtls, str(path), prefix, suffix, "priceInCents")
    assert b"(" in price and b"()" in price


def test_enum_constants_take_no_paren_and_nothing_is_hidden(tokenizer, jdtls, report):
    path, text = report
    prefix, suffix = split_at(text, "    public String shelfFor(Book book) {\n")
    prefix += "        Genre g = Genre."
    suffix = ";\n" + suffix
    names = _DEREF.allowed_names(jdtls, Document(path, prefix, suffix), "")
    # JDT.LS after a Java enum: its constants (kind 20), `values`, `valueOf` and `class`; no Object members
    assert names == {"FICTION", "HISTORY", "SCIENCE", "POETRY", "values", "valueOf", "class"}
    assert not names.hidden and names.no_call == {"FICTION", "HISTORY", "SCIENCE", "POETRY", "class"}
    after = allowed_after_name(tokenizer, jdtls, path, prefix, suffix, "HISTORY")
    assert b"(" not in after and b";" in after
    # Object's methods on an instance are real methods: offered as before
    book = _DEREF.allowed_names(jdtls, Document(path, prefix[: -len("Genre g = Genre.")] + "book.", suffix), "")
    assert {"getClass", "hashCode", "wait", "notify", "equals"} <= book and not book.hidden
