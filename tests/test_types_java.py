"""The `types` monitor on Java, with the real JDT.LS and the real tokenizer, on a small project written here.

At `int n = shelf.` the monitor drops `stackCrate` (void) from the names and
lets `heaviestCrate` and `getClass` through only as chain steps: the
expression may not end after them (`;` banned after `heaviestCrate()`),
while `.` may follow. `totalUnits` (int) ends it freely.
"""

from __future__ import annotations

import pytest
import torch

from mgd.decoding.processor import MGDLogitsProcessor
from mgd.lsp.session import LanguageServerSession
from mgd.monitors import monitors_by_name
from mgd.monitors.base import Document
from mgd.monitors.types import NO, NO_CLOSE, NO_COMMA, NO_SUMS, VOID, TypesMonitor

from types_projects import java_depot

HEAD = "package org.depot;\n\nclass Use {\n    int f(Shelf shelf, Crate crate) {\n"
TAIL = "\n        return 0;\n    }\n}\n"


@pytest.fixture(scope="module")
def depot(tmp_path_factory):
    return java_depot(tmp_path_factory)


@pytest.fixture(scope="module")
def jdtls(depot):
    with LanguageServerSession(depot, language="java") as running:
        yield running


@pytest.fixture(scope="module")
def path(depot) -> str:
    return str(depot / "src/main/java/org/depot/Use.java")


@pytest.fixture(scope="module")
def processor(tokenizer, jdtls):
    return MGDLogitsProcessor(tokenizer, jdtls, monitors_by_name("deref,types", "java"))


def verdicts(jdtls, path: str, line: str) -> dict[str, str]:
    judged = TypesMonitor().judge(jdtls, Document(path, HEAD + line, TAIL), "")
    assert judged is not None, line
    return judged[1]


def allowed_after(
    processor, tokenizer, path: str, line: str, written: str = "", favour: bytes | None = None, head: str = HEAD
) -> set[bytes]:
    """The tokens the processor lets through once `written` follows the prompt `head + line` (each step asked in turn).

    Every token scores alike, or, with `favour`, that token far above all others (the rest are then unlikely).
    """
    prompt = tokenizer(head + line, add_special_tokens=False)["input_ids"]
    more = tokenizer(written, add_special_tokens=False)["input_ids"] if written else []
    processor.clear_prompts()
    processor.add_prompt(prompt, Document(path, head + line, TAIL))
    scores = torch.zeros(1, len(tokenizer))
    if favour is not None:
        scores[0, processor.index.token_bytes.index(favour)] = 100.0
    for step in range(len(more) + 1):
        out = processor(torch.tensor([prompt + more[:step]]), scores.clone())
    table = processor.index.token_bytes
    return {table[t] for t in torch.nonzero(out[0] > float("-inf")).flatten().tolist() if table[t]}


def test_int_expected_keeps_int_members_and_ends_no_other(jdtls, path):
    found = verdicts(jdtls, path, "        int n = shelf.")
    assert found["totalUnits"] != NO and found["capacity"] != NO
    assert found["stackCrate"] == VOID and found["wait"] == VOID and found["notify"] == VOID
    assert found["heaviestCrate"] == NO and found["getClass"] == NO
    assert found["label"] == NO_SUMS  # a String, and so is every sum that starts with it
    assert found["totalWeight"] == NO_SUMS  # long does not narrow to int, nor does any sum it starts
    assert found["isFull"] == NO
    assert found["pick"] != NO  # a type variable: unknown, so it fits


def test_int_expected_through_the_processor(processor, tokenizer, path):
    line = "        int n = shelf."
    at_dot = allowed_after(processor, tokenizer, path, line)
    assert b"total" in at_dot or b"totalUnits" in at_dot
    assert not any(t.startswith(b"stack") for t in at_dot)  # void: dropped outright
    assert b"he" in at_dot and b"get" in at_dot  # `heaviestCrate`, `getClass`: chain steps may start here
    ended = allowed_after(processor, tokenizer, path, line, "heaviestCrate()")
    assert b";" not in ended and b");" not in ended and b"\n" in ended
    assert b"." in ended  # `shelf.heaviestCrate().weight()` is an int
    assert b";" not in allowed_after(processor, tokenizer, path, line, "getClass()")
    names_only = MGDLogitsProcessor(tokenizer, processor.guide.session, monitors_by_name("deref", "java"))
    assert b";" in allowed_after(names_only, tokenizer, path, line, "getClass()")  # what `types` adds
    assert b";" in allowed_after(processor, tokenizer, path, line, "heaviestCrate().weight()")
    assert b";" in allowed_after(processor, tokenizer, path, line, "totalUnits()")
    # an operator ends the rule: `isFull()` is a boolean operand of `?:`
    assert b";" in allowed_after(processor, tokenizer, path, line, "isFull() ? 1 : 0")


def test_a_wider_number_stays_unfit_through_arithmetic(processor, tokenizer, path):
    line = "        int n = shelf."
    for written in ("totalWeight() - 1", "totalWeight() >> 2", "totalWeight() * shelf.totalUnits()"):
        assert b";" not in allowed_after(processor, tokenizer, path, line, written), written
    # a comparison makes a boolean, which a ternary may turn into an int
    assert b";" in allowed_after(processor, tokenizer, path, line, "totalWeight() > 0 ? 1 : 0")
    # an `int` member's sums are free: `totalUnits() - 1` is an int
    assert b";" in allowed_after(processor, tokenizer, path, line, "totalUnits() - 1")
    found = verdicts(jdtls=processor.guide.session, path=path, line="        boolean full = shelf.")
    assert found["totalWeight"] == NO_SUMS and found["isFull"] != NO
    assert b";" not in allowed_after(processor, tokenizer, path, "        boolean full = shelf.", "totalUnits() + 1")
    assert b";" in allowed_after(processor, tokenizer, path, "        boolean full = shelf.", "totalUnits() >= 1")


def test_a_project_type_expected_keeps_its_members(jdtls, processor, tokenizer, path):
    found = verdicts(jdtls, path, "        Crate c = shelf.")
    assert found["heaviestCrate"] != NO
    assert found["getClass"] == NO and found["totalUnits"] == NO and found["label"] == NO_SUMS
    line = "        Crate c = shelf."
    assert b";" in allowed_after(processor, tokenizer, path, line, "heaviestCrate()")
    assert b";" not in allowed_after(processor, tokenizer, path, line, "getClass()")


def test_a_string_stays_unfit_through_sums(processor, tokenizer, path):
    # commons-logging's `getClassLoader(getClass().getName() + ".class")`: a String sum is no Class
    line = "        Crate c = shelf."
    for written in ('label() + ".class"', "label() + 1", 'label() + "a" + shelf.totalUnits()'):
        assert b";" not in allowed_after(processor, tokenizer, path, line, written), written
    assert b";" in allowed_after(processor, tokenizer, path, line, 'label() == null ? crate : crate')
    assert b";" in allowed_after(processor, tokenizer, path, "        String s = shelf.", 'label() + ".class"')


def test_a_void_member_is_dropped_in_an_argument(jdtls, processor, tokenizer, path):
    line = "        shelf.stackCrate(shelf."
    found = verdicts(jdtls, path, line)
    assert found["stackCrate"] == VOID and found["heaviestCrate"] != NO and found["totalUnits"] == NO
    at_dot = allowed_after(processor, tokenizer, path, line)
    assert not any(t.startswith(b"stack") for t in at_dot) and not any(t.startswith(b"wait") for t in at_dot)
    ended = allowed_after(processor, tokenizer, path, line, "totalUnits()")
    assert b")" not in ended and b");" not in ended and b"," not in ended


def test_a_builder_chain_stays_open(jdtls, processor, tokenizer, path):
    line = "        Crate b = Crate."
    found = verdicts(jdtls, path, line)
    assert found["builder"] == NO  # a Builder, not a Crate: a chain step only
    written = allowed_after(processor, tokenizer, path, line, "builder()")
    assert b"." in written and b";" not in written
    inner = verdicts(jdtls, path, "        Crate b = Crate.builder().")
    assert inner["build"] != NO and inner["weight"] == NO
    assert b";" in allowed_after(processor, tokenizer, path, line, "builder().weight(3).build()")
    # the chain may go on over lines, as builders are written
    assert b"\n" in allowed_after(processor, tokenizer, path, "        Crate b = Crate.builder().", "weight(3)")


def test_conditions_and_return_take_their_types(jdtls, path):
    condition = verdicts(jdtls, path, "        if (shelf.")
    assert condition["isFull"] != NO and condition["totalUnits"] == NO_SUMS  # `shelf.totalUnits() > 0` ends the rule
    returned = verdicts(jdtls, path, "        return shelf.")  # f returns int
    assert returned["totalUnits"] != NO and returned["label"] == NO_SUMS
    boxed = verdicts(jdtls, path, "        Integer i = shelf.")
    assert boxed["totalUnits"] != NO and boxed["totalWeight"] == NO_SUMS


def test_where_nothing_is_expected_or_known_nothing_is_masked_for_its_type(jdtls, path):
    monitor = TypesMonitor()
    assert monitor.allowed_names(jdtls, Document(path, HEAD + "        shelf.", TAIL), "") is None  # a statement
    # after a `switch` label a statement follows, not the other branch of `?:`: `shelf.stackCrate(crate);` is fine
    switch = "        switch (crate.weight()) {\n        case 1:\n            return 1;\n        default:\n            shelf."
    assert monitor.allowed_names(jdtls, Document(path, HEAD + switch, "\n        }" + TAIL), "") is None
    assert verdicts(jdtls, path, "        int n = crate.weight() > 1 ? 2 :\n            shelf.")["stackCrate"] == VOID  # `?:` still
    generic = "package org.depot;\n\nclass Use {\n    <T> T f(Shelf shelf) {\n"
    for head, line in ((HEAD, "        var v = shelf."), (HEAD, "        Object o = shelf."), (generic, "        T t = shelf.")):
        names = monitor.allowed_names(jdtls, Document(path, head + line, TAIL), "")
        # a value is needed, of a type that is not known or takes anything: only void members go
        assert names is not None and not names.no_end, line
        assert "stackCrate" not in names and {"heaviestCrate", "totalUnits", "getClass", "label"} <= names, line


def test_an_answer_for_this_is_not_reused_where_another_type_is_expected(processor, tokenizer, path):
    # `this.` answers are kept per document for the receiver alone (mgd.decoding.kept_answers): the
    # types answer depends on the place, so two generations from one prompt must not share it
    prefix = "package org.depot;\n\nclass Use {\n    Crate top;\n    int count;\n\n    int f(Shelf shelf) {\n        "
    prompt = tokenizer(prefix, add_special_tokens=False)["input_ids"]
    processor.clear_prompts()
    processor.add_prompt(prompt, Document(path, prefix, TAIL))

    def after(written: str) -> set[bytes]:
        more = tokenizer(written, add_special_tokens=False)["input_ids"]
        processor.guide.reset()  # a new generation from the same prompt
        for step in range(len(more) + 1):
            out = processor(torch.tensor([prompt + more[:step]]), torch.zeros(1, len(tokenizer)))
        table = processor.index.token_bytes
        return {table[t] for t in torch.nonzero(out[0] > float("-inf")).flatten().tolist() if table[t]}

    assert b";" not in after("int n = this.top")
    assert b";" in after("Crate c = this.top")
    assert b";" not in after("Crate c = this.count")


def test_a_plain_name_of_the_wrong_type_may_not_end_an_argument(tokenizer, jdtls, path):
    guided = MGDLogitsProcessor(tokenizer, jdtls, monitors_by_name("deref,args,types", "java"))
    line = "        long total = 3;\n        shelf.stackCrate("  # stackCrate(Crate crate): one signature
    after_total = allowed_after(guided, tokenizer, path, line, "total")
    assert b")" not in after_total and b");" not in after_total  # a long is no Crate
    assert b" +" in after_total or b"+" in after_total  # anything else stays free
    assert b")" in allowed_after(guided, tokenizer, path, line, "crate")
    after_shelf = allowed_after(guided, tokenizer, path, line, "shelf")
    assert b")" not in after_shelf and b"." in after_shelf  # `shelf.heaviestCrate()` is a Crate
    # a name the server does not list is not judged
    assert b")" in allowed_after(guided, tokenizer, path, line, "unknownThing")
    names_only = MGDLogitsProcessor(tokenizer, jdtls, monitors_by_name("deref,args", "java"))
    assert b")" in allowed_after(names_only, tokenizer, path, line, "total")  # what `types` adds


def test_banning_the_likely_end_of_an_argument_bans_the_unlikely_ones_too(tokenizer, jdtls, path):
    # jsoup's `parseFragment(..., errorList);`: only `);` was likely and banned, and the model wrote `).` instead
    guided = MGDLogitsProcessor(tokenizer, jdtls, monitors_by_name("deref,args,types", "java"))
    line = "        long total = 3;\n        shelf.stackCrate("
    after_total = allowed_after(guided, tokenizer, path, line, "total", favour=b");")
    assert not {t for t in after_total if t[:1] in (b")", b",")}  # `)`, `).`, `))`, `,`: none may end it
    assert b" +" in after_total or b"+" in after_total
    assert b")." in allowed_after(guided, tokenizer, path, line, "crate", favour=b");")


def test_a_literal_of_the_wrong_type_may_not_end_an_argument(tokenizer, jdtls, path):
    guided = MGDLogitsProcessor(tokenizer, jdtls, monitors_by_name("deref,args,types", "java"))
    line = "        shelf.stackCrate("
    assert b")" not in allowed_after(guided, tokenizer, path, line, "3")  # an int is no Crate
    assert b")" not in allowed_after(guided, tokenizer, path, line, "true")
    assert b"." in allowed_after(guided, tokenizer, path, line, "3")  # `3.` goes on: not judged here
    names_only = MGDLogitsProcessor(tokenizer, jdtls, monitors_by_name("deref,args", "java"))
    assert b")" in allowed_after(names_only, tokenizer, path, line, "3")


def test_a_string_literal_is_a_string_where_it_ends(tokenizer, jdtls, path):
    guided = MGDLogitsProcessor(tokenizer, jdtls, monitors_by_name("deref,args,types", "java"))
    closed = allowed_after(guided, tokenizer, path, "        shelf.stackCrate(", '"crate"')
    assert b")" not in closed and b");" not in closed and b"." in closed  # a String is no Crate
    still_open = allowed_after(guided, tokenizer, path, "        shelf.stackCrate(", '"cra')
    assert b'")' not in still_open and b'");' not in still_open and b'"' in still_open
    # overloads: `tag(String, String)` goes on after a String, `tag(Crate)` takes none
    tag = allowed_after(guided, tokenizer, path, "        labels.tag(", '"key"', head=OVERLOADS)
    assert b"," in tag and b")" not in tag
    assert b'",' in allowed_after(guided, tokenizer, path, "        labels.tag(", '"ke', head=OVERLOADS)
    assert b")" in allowed_after(guided, tokenizer, path, "        labels.note(", '"text"', head=OVERLOADS)


OVERLOADS = "package org.depot;\n\nimport java.util.Comparator;\n\nclass Use {\n    Comparator<Crate> order;\n\n    int f(Labels labels, Object message, String text) {\n"


def test_an_overloaded_calls_argument_is_judged_by_what_follows_it(jdtls, processor, tokenizer, path):
    # `tag(Crate)` and `tag(String, String)`: a String may go on with `,`, a Crate may end the call
    found = TypesMonitor().judge(jdtls, Document(path, OVERLOADS + "        labels.tag(Labels.", TAIL), "")[1]
    assert found["KIND"] == NO_CLOSE and found["SPARE"] == NO_COMMA
    assert found["class"] == NO  # `Labels.class` is a Class: neither a Crate nor a String
    kind = allowed_after(processor, tokenizer, path, "        labels.tag(Labels.", "KIND", head=OVERLOADS)
    assert b")" not in kind and b");" not in kind and b"," in kind and b"." in kind
    spare = allowed_after(processor, tokenizer, path, "        labels.tag(Labels.", "SPARE", head=OVERLOADS)
    assert b")" in spare and b"," not in spare
    # a varargs overload takes anything after its fixed parameters: only what is known is judged
    counted = TypesMonitor().judge(jdtls, Document(path, OVERLOADS + "        labels.count(Labels.", TAIL), "")[1]
    # `count(String, Object...)` may end after its String, and goes on only after one; `count(Crate)` ends
    assert counted["KIND"] not in (NO, NO_CLOSE, NO_COMMA) and counted["SPARE"] == NO_COMMA
    later = TypesMonitor().judge(jdtls, Document(path, OVERLOADS + "        labels.count(text, Labels.", TAIL), "")
    assert later is None or all(v not in (NO, NO_CLOSE, NO_COMMA) for v in later[1].values())


def test_a_plain_name_is_judged_against_each_overloads_parameter(tokenizer, jdtls, path):
    # commons-logging's `getLogger().debug(message)`: an `Object` parameter for `note(String)` and `note(String, Throwable)`
    guided = MGDLogitsProcessor(tokenizer, jdtls, monitors_by_name("deref,args,types", "java"))
    line = "        labels.note("
    after_message = allowed_after(guided, tokenizer, path, line, "message", head=OVERLOADS)
    assert not {t for t in after_message if t[:1] in (b")", b",")}
    assert b"." in after_message  # `message.toString()` is a String
    after_text = allowed_after(guided, tokenizer, path, line, "text", head=OVERLOADS)
    assert b")" in after_text and b"," in after_text
    tag = allowed_after(guided, tokenizer, path, "        labels.tag(", "text", head=OVERLOADS)
    assert b"," in tag and b")" not in tag  # `tag(String, String)` goes on; `tag(Crate)` takes no String
    names_only = MGDLogitsProcessor(tokenizer, jdtls, monitors_by_name("deref,args", "java"))
    assert b")" in allowed_after(names_only, tokenizer, path, line, "message", head=OVERLOADS)


def test_an_object_is_judged_only_where_the_method_header_declares_it(jdtls, path):
    # JDT.LS labels a lambda parameter it cannot infer `Object` as well: that one is never judged
    monitor = TypesMonitor()
    header = monitor.name_types(jdtls, Document(path, OVERLOADS + "        labels.note(message", TAIL), "")
    assert header is not None and header.get("message") == "Object"
    lambda_head = OVERLOADS + "        java.util.function.Consumer<String> c = item -> labels.note(item"
    in_lambda = monitor.name_types(jdtls, Document(path, lambda_head, ");" + TAIL), "")
    assert in_lambda is None or "item" not in in_lambda or in_lambda["item"] != "Object"


def test_enums_and_class_literals_fit_only_their_supertypes(jdtls, path):
    sized = TypesMonitor().judge(jdtls, Document(path, OVERLOADS + "        this.order = Size.", TAIL), "")[1]
    assert sized["SMALL"] == NO  # an enum is no Comparator
    for line in ("        Object o = Size.", "        Comparable<Size> c = Size.", "        Size s = Size."):
        found = TypesMonitor().judge(jdtls, Document(path, OVERLOADS + line, TAIL), "")
        assert found is None or found[1]["SMALL"] != NO, line
    literal = TypesMonitor().judge(jdtls, Document(path, OVERLOADS + "        String s = Crate.", TAIL), "")[1]
    assert literal["class"] == NO
    typed = TypesMonitor().judge(jdtls, Document(path, OVERLOADS + "        java.lang.reflect.Type t = Crate.", TAIL), "")
    assert typed is None or typed[1]["class"] != NO
