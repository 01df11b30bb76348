"""Member rules after a dot (issue points 5 and 6) with the real jedi server and the real tokenizers.

Point 5: where the receiver has members of its own, dunders, `type`'s `mro`
and, on an Enum class, Enum's own API are allowed only if the row's best
token is headed for them (`_` first). Point 6: no `(` right after a
member whose value jedi says is an int, str, ... or an enum member; a
method, a class, a callable or anything unknown stays free.
"""

from __future__ import annotations

import re

import pytest
import torch

import mgd
from mgd.decoding.processor import MGDLogitsProcessor
from mgd.decoding.token_index import NameTrie, token_index_for
from mgd.lsp.session import LanguageServerSession
from mgd.monitors.base import Document, Names
from mgd.monitors.dereference import DereferenceMonitor, member_rules_setting

ANIMALS = '''"""The zoo's animals."""

from __future__ import annotations

from enum import Enum


class Diet(Enum):
    CARNIVORE = "carnivore"
    HERBIVORE = "herbivore"
    OMNIVORE = "omnivore"


class Penguin:
    """A penguin."""

    def __init__(self, name: str, diet: Diet) -> None:
        self.name = name
        self.diet = diet
        self.steps = 0

    @property
    def waddle_speed(self) -> float:
        """Metres per second."""
        return 0.4 + self.steps / 1000

    def waddle(self, steps: int) -> None:
        self.steps += steps


class Pen:
    """An enclosure."""

    def __init__(self, capacity_limit: int) -> None:
        self.capacity_limit = capacity_limit
        self.penguins: list[Penguin] = []

    def admit(self, pingu: Penguin) -> bool:
        if len(self.penguins) >= self.capacity_limit:
            return False
        self.penguins.append(pingu)
        return True


class Chick:
    """A young penguin."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def waddle_speed(self) -> float:
        """Metres per second."""
        return 0.2


class Enclosure:
    """Where chicks live."""

    def __init__(self, capacity_limit: int) -> None:
        self.capacity_limit = capacity_limit
'''

KEEPER = '''"""A keeper's things: every kind of member."""

from typing import Callable


class Helper:
    def __call__(self) -> int:
        return 1


class Keeper:
    def __init__(self, f: Callable[[int], int], thing) -> None:
        self.capacity_limit = 4
        self.title = "keeper"
        self.f = f
        self.thing = thing
        self.helper = Helper()
        self.callback = print
        self.kind = Helper

    @property
    def waddle_speed(self) -> float:
        return 1.5

    def waddle_speed_fn(self) -> float:
        return 1.5

    def waddle(self, steps: int) -> float:
        return steps * 0.3
'''

HEAD = "from zoo.animals import Chick, Diet, Enclosure, Pen, Penguin\n\n\n"
KEEPER_HEAD = "from zoo.keeper import Keeper\n\n\ndef f(k: Keeper):\n    return k."


@pytest.fixture(autouse=True)
def _rules_on(monkeypatch):
    """These tests are about the rules: on, as by default, whatever the shell's $MGD_MEMBER_RULES."""
    monkeypatch.delenv("MGD_MEMBER_RULES", raising=False)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("repos") / "zoo"
    (root / "zoo").mkdir(parents=True)
    (root / "zoo" / "__init__.py").write_text("")
    (root / "zoo" / "animals.py").write_text(ANIMALS)
    (root / "zoo" / "keeper.py").write_text(KEEPER)
    return root


@pytest.fixture(scope="module")
def jedi(zoo):
    with LanguageServerSession(zoo) as running:
        yield running


@pytest.fixture(scope="module")
def path(zoo):
    return str(zoo / "zoo" / "scratch.py")


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def allowed_after(
    tokenizer, session, path: str, prefix: str, written: list[int] = (), push: dict | None = None, dtype=torch.float32
) -> set[bytes]:
    """The tokens the processor allows once `written` (token ids) follow `prefix`, each step asked in turn.

    Scores are flat (every token as likely) but for `push` {step: token id},
    which makes that token the row's best at that step.
    """
    processor = MGDLogitsProcessor(tokenizer, session)
    prompt = _ids(tokenizer, prefix)
    processor.add_prompt(prompt, Document(path, prefix, "\n"))
    written = list(written)
    for step in range(len(written) + 1):
        scores = torch.zeros(1, len(tokenizer), dtype=dtype)
        if push and step in push:
            scores[0, push[step]] = 10.0
        out = processor(torch.tensor([prompt + written[:step]]), scores)
    table = processor.index.token_bytes
    return {table[t] for t in torch.nonzero(out[0] > float("-inf")).flatten().tolist() if table[t]}


def _token(tokenizer, text: str) -> int:
    ids = _ids(tokenizer, text)
    assert len(ids) == 1, f"{text!r} is {tokenizer.convert_ids_to_tokens(ids)} here"
    return ids[0]


def _raw(session, path: str, text: str) -> list[dict]:
    """jedi's raw completion items at the end of `text` (for what it reports, beyond what the session keeps)."""
    answer = session._ask("completion", path, text + "\n", len(text))
    return answer.get("items", []) if isinstance(answer, dict) else answer


# -- what jedi-language-server 0.41.3 reports --------------------------------------------------------


def test_what_jedi_reports_for_members(jedi, path):
    items = {i["label"]: i for i in _raw(jedi, path, HEAD + "def f(pingu: Penguin):\n    return Diet.")}
    assert items["CARNIVORE"]["kind"] == 6  # a Variable, as any attribute: no EnumMember kind
    assert items["mro"]["kind"] == 3 and items["__init_subclass__"]["kind"] == 3 and items["__module__"]["kind"] == 6
    assert items["name"]["kind"] == 6 and "_member_map_" in items and "__subclasses__" in items
    # sortText is only the name's shape (v plain, w _x, y __x__) and its rank; no detail, no origin
    assert items["CARNIVORE"]["sortText"].startswith("v") and items["mro"]["sortText"].startswith("v")
    assert items["_member_map_"]["sortText"].startswith("w") and items["__module__"]["sortText"].startswith("y")
    assert not any(i.get("detail") for i in items.values())
    pingu = {i["label"]: i for i in _raw(jedi, path, HEAD + "def f(pingu: Penguin):\n    return pingu.")}
    assert pingu["waddle_speed"]["kind"] == 10 and pingu["waddle"]["kind"] == 3 and pingu["steps"]["kind"] == 6
    assert "mro" not in pingu  # an instance: no `type` members


# -- point 5: dunders, mro and Enum's API -----------------------------------------------------------------


def test_the_monitor_hides_what_every_object_and_class_carries(jedi, path):
    deref = DereferenceMonitor(hide_inherited=True, check_calls=True)
    names = deref.allowed_names(jedi, Document(path, HEAD + "def f(pingu: Penguin):\n    return Diet.", "\n"), "")
    assert isinstance(names, Names) and {"mro", "__module__", "__init_subclass__", "name", "value"} <= names
    assert names - names.hidden == {"CARNIVORE", "HERBIVORE", "OMNIVORE"}
    member = deref.allowed_names(jedi, Document(path, HEAD + "def f(pingu: Penguin):\n    return Diet.CARNIVORE.", "\n"), "")
    assert {"name", "value"} <= member - member.hidden and "__module__" in member.hidden
    instance = deref.allowed_names(jedi, Document(path, HEAD + "def f(pingu: Penguin):\n    return pingu.", "\n"), "")
    assert instance - instance.hidden == {"name", "diet", "steps", "waddle", "waddle_speed"}
    # a method's members are all dunders: nothing of its own, everything hidden
    method = deref.allowed_names(jedi, Document(path, HEAD + "def f(pingu: Penguin):\n    return pingu.waddle.", "\n"), "")
    assert "__call__" in method and method.hidden == method
    off = DereferenceMonitor(hide_inherited=False, check_calls=False)
    plain = off.allowed_names(jedi, Document(path, HEAD + "def f(pingu: Penguin):\n    return Diet.", "\n"), "")
    assert plain == names and not isinstance(plain, Names)


def test_init_stays_shown_after_super(jedi, path):
    deref = DereferenceMonitor(hide_inherited=True, check_calls=True)
    prefix = HEAD + "class Emperor(Penguin):\n    def __init__(self):\n        super()."
    names = deref.allowed_names(jedi, Document(path, prefix, "\n"), "")
    assert "__init__" in names and "__init__" not in names.hidden  # `super().__init__(...)` is how code calls it
    assert "__init_subclass__" in names.hidden
    instance = deref.allowed_names(jedi, Document(path, HEAD + "def f(pingu: Penguin):\n    return pingu.", "\n"), "")
    assert "__init__" in instance.hidden  # elsewhere it stays held back


def test_dunders_and_mro_are_masked_unless_the_model_writes_an_underscore(tokenizer, jedi, path):
    prefix = HEAD + "def feed(pingu: Penguin) -> None:\n    food = Diet."
    free = allowed_after(tokenizer, jedi, path, prefix)
    assert b"CAR" in free and b"HER" in free and b"OM" in free
    assert not {b"__", b"_", b"m", b"name", b"value", b"n", b"v"} & free
    underscore = allowed_after(tokenizer, jedi, path, prefix, push={0: _token(tokenizer, "__")})
    assert {b"__", b"_", b"CAR"} <= underscore  # headed for a dunder: every member is open
    # `mro` stays open to a row whose best token can only start a hidden name
    m = allowed_after(tokenizer, jedi, path, prefix, push={0: _token(tokenizer, "m")})
    assert {b"m", b"CAR"} <= m
    # a best token that is no member at all (the model wanted `create`): the enum's members only
    assert allowed_after(tokenizer, jedi, path, prefix, push={0: _token(tokenizer, "create")}) == free


def test_a_dot_merged_dunder_token_is_open_only_as_the_best(tokenizer, jedi, path):
    # SmolLM2 writes `.__` as one token: in free text it opens a dunder only where it is the row's best
    prefix = HEAD + "def f(pingu: Penguin):\n    return pingu"
    dot_dunder, dot = _token(tokenizer, ".__"), _token(tokenizer, ".")
    processor = MGDLogitsProcessor(tokenizer, jedi)
    prompt = _ids(tokenizer, prefix)
    processor.add_prompt(prompt, Document(path, prefix, "\n"))

    def allowed(scores_of: dict[int, float]) -> bool:
        processor.reset()
        scores = torch.zeros(1, len(tokenizer))
        for tid, value in scores_of.items():
            scores[0, tid] = value
        return bool(processor(torch.tensor([prompt]), scores)[0, dot_dunder] > float("-inf"))

    assert allowed({dot_dunder: 5.0})  # the model writes `.__`: `pingu.__class__` and the rest are open
    assert not allowed({dot: 5.0, dot_dunder: 4.0})  # within the margin, but the model would write `.`
    # chosen, it goes on among the dunders
    processor.reset()
    scores = torch.zeros(1, len(tokenizer))
    scores[0, dot_dunder] = 5.0
    processor(torch.tensor([prompt]), scores)
    out = processor(torch.tensor([prompt + [dot_dunder]]), torch.zeros(1, len(tokenizer)))
    table = processor.index.token_bytes
    after = {table[t] for t in torch.nonzero(out[0] > float("-inf")).flatten().tolist() if table[t]}
    assert {b"class", b"init", b"module"} <= after and b"waddle" not in after


def test_a_typed_underscore_opens_the_dunders(real_model, jedi, path):
    # `mgd serve` cuts the word typed before the cursor from the prompt and holds the rows to it
    # after guidance; the document says what that word is, and the gate reads it, not the model
    from mgd.completion import complete_document
    from mgd.server.completer import _TypedText

    model, tokenizer = real_model
    prefix = HEAD + "def f(pingu: Penguin) -> str:\n    return pingu."
    monitors = [DereferenceMonitor(hide_inherited=True, check_calls=True)]
    common = dict(model=model, tokenizer=tokenizer, max_new_tokens=6)

    def typed(text: str, document: Document) -> str:
        processor = MGDLogitsProcessor(tokenizer, jedi, monitors)
        return complete_document(document, processor=processor, logits_processors=[_TypedText(tokenizer, text)], **common)[0].text

    assert typed("__", Document(path, prefix, "\n", typed="__")).startswith("__")
    assert typed("__", Document(path, prefix, "\n")) == ""  # not told: the model's own best token rules
    assert typed("wad", Document(path, prefix, "\n", typed="wad")).startswith("waddle")


def test_enum_members_keep_name_and_value(tokenizer, jedi, path):
    for prefix in (HEAD + "def f(food: Diet) -> str:\n    return food.", HEAD + "def f() -> str:\n    return Diet.CARNIVORE."):
        allowed = allowed_after(tokenizer, jedi, path, prefix)
        assert {b"name", b"value"} <= allowed, prefix
        assert b"__" not in allowed and b"mro" not in allowed


def test_a_receiver_with_only_dunders_is_free_unless_the_model_writes_one(tokenizer, jedi, path):
    # a method has nothing of its own: a row headed for a dunder keeps to them, any other goes free
    prefix = HEAD + "def f(pingu: Penguin):\n    return pingu.waddle."
    dunder = allowed_after(tokenizer, jedi, path, prefix, push={0: _token(tokenizer, "__")})
    assert b"__" in dunder and b"books" not in dunder and b"speed" not in dunder
    free = allowed_after(tokenizer, jedi, path, prefix, push={0: _token(tokenizer, "books")})
    assert {b"__", b"books", b"speed", b"("} <= free


def test_real_model_writes_an_enum_member_not_mro(real_model, zoo, jedi):
    unguided, before, guided = _three_ways(real_model, zoo, jedi, "def feed(pingu: Penguin) -> None:\n    food = Diet.")
    # the premise: the model wants a member Diet lacks (`create(`), and without the rules the
    # mask's best guess is a degenerate chain (`mro.__getattribute_`)
    assert _first(unguided) not in {"CARNIVORE", "HERBIVORE", "OMNIVORE"}, unguided
    assert before.startswith("mro"), before
    assert _first(guided) in {"CARNIVORE", "HERBIVORE", "OMNIVORE"}, guided
    assert "__" not in guided and "mro" not in guided


def test_real_model_no_dunder_chain_after_a_method(real_model, bookshop, session):
    # the issue's `for book in catalogue.`: the model wants `books`, the mask gives `lookup_isbn`,
    # the model writes a dot; a bound method has nothing but dunders, and without the rules
    # the mask pushes it into `lookup_isbn.__init_subclass__...`
    model, tokenizer = real_model
    text = (bookshop / "bookshop" / "report.py").read_text()
    mark = "    for book in catalogue."
    line = text[: text.index(mark)].count("\n") + 1
    common = dict(model=model, tokenizer=tokenizer, session=session, max_new_tokens=12)
    where = (bookshop, "bookshop/report.py", line, len(mark) + 1)
    before = mgd.generate(*where, monitors=[DereferenceMonitor(hide_inherited=False, check_calls=False)], **common).text
    guided = mgd.generate(*where, monitors=[DereferenceMonitor(hide_inherited=True, check_calls=True)], **common).text
    assert before.startswith("lookup_isbn.__"), before  # the premise
    assert guided.startswith("lookup_isbn") and "__" not in guided, guided


# -- point 6: `(` after a name that cannot be called ---------------------------------------------------------


def _spelled(tokenizer, text: str) -> list[int]:
    return _ids(tokenizer, text)


@pytest.mark.parametrize(
    "member,callable_,bare",
    [
        ("capacity_limit", False, False),  # an int
        ("title", False, False),  # a str
        ("waddle_speed", False, False),  # a property, a float
        ("waddle", True, False),  # a method that needs `steps`: `()` breaks its signature
        ("waddle_speed_fn", True, True),
        ("helper", True, True),  # an instance whose class has __call__
        ("callback", True, True),  # print
        ("kind", True, True),  # a class
        ("f", True, True),  # Callable[[int], int]: jedi lists no __call__, and no builtin's members
        ("thing", True, True),  # unknown
    ],
)
def test_paren_after_a_member_follows_its_kind_and_type(tokenizer, jedi, path, member, callable_, bare):
    allowed = allowed_after(tokenizer, jedi, path, KEEPER_HEAD, _spelled(tokenizer, member))
    assert (b"(" in allowed) == callable_ and (b"()" in allowed) == bare, member
    assert b")" in allowed and b" " in allowed and b"." in allowed  # the name may end in any other way
    if not callable_:
        assert not any(t.lstrip(b" \t").startswith(b"(") for t in allowed), member


def test_rules_on_scores_numpy_cannot_view(tokenizer, jedi, path):
    # bfloat16 rows reach the guide as torch rows: the same answers
    speed = allowed_after(tokenizer, jedi, path, KEEPER_HEAD, _spelled(tokenizer, "waddle_speed"), dtype=torch.bfloat16)
    assert b"_" in speed and b"(" not in speed
    prefix = HEAD + "def feed(pingu: Penguin) -> None:\n    food = Diet."
    assert b"__" in allowed_after(tokenizer, jedi, path, prefix, push={0: _token(tokenizer, "__")}, dtype=torch.bfloat16)
    assert b"__" not in allowed_after(tokenizer, jedi, path, prefix, dtype=torch.bfloat16)


def test_paren_after_the_name_and_a_space(tokenizer, jedi, path):
    after = allowed_after(tokenizer, jedi, path, KEEPER_HEAD, _spelled(tokenizer, "capacity_limit") + [_token(tokenizer, " ")])
    assert b"(" not in after and b" (" not in after and b"+" in after
    method = allowed_after(tokenizer, jedi, path, KEEPER_HEAD, _spelled(tokenizer, "waddle") + [_token(tokenizer, " ")])
    assert b"(" in method


def test_a_longer_name_still_opens_its_call(tokenizer, jedi, path):
    # `waddle_speed` is a float, `waddle_speed_fn` a method: the one may not be called, the other may
    at_speed = allowed_after(tokenizer, jedi, path, KEEPER_HEAD, _spelled(tokenizer, "waddle_speed"))
    assert b"_" in at_speed and b"(" not in at_speed
    fn = allowed_after(tokenizer, jedi, path, KEEPER_HEAD, _spelled(tokenizer, "waddle_speed_fn"))
    assert b"(" in fn and b"()" in fn


def test_a_token_that_finishes_the_name_and_opens_the_call(merging_tokenizer, jedi, path):
    # the merging vocabulary spells `__(` and `__()` as one token: after `k.__module` (a str) and
    # `k.__dict` (a dict) they are banned, after `k.__class` (a class) and `k.__init` (a method) not;
    # `__doc__` is `str | None` to jedi, no single builtin: left free
    dunder = _token(merging_tokenizer, "__")
    cases = (("__module", False), ("__dict", False), ("__class", True), ("__init", True), ("__doc", True))
    for name, callable_ in cases:
        written = _ids(merging_tokenizer, name)
        assert written[0] == dunder
        allowed = allowed_after(merging_tokenizer, jedi, path, KEEPER_HEAD, written, push={0: dunder})
        assert b"__" in allowed, name
        assert (b"__(" in allowed) == callable_ and (b"__()" in allowed) == callable_, name


def test_real_model_does_not_call_an_int_or_a_property(real_model, zoo, jedi):
    # the premise: without the rules, `pen.capacity_limit(food)` (an int) and `chick.waddle_speed()` (a float property)
    _, before, guided = _three_ways(real_model, zoo, jedi, "def room(pen: Enclosure, food: int) -> int:\n    return pen.")
    assert before.startswith("capacity_limit("), before
    assert _first(guided) == "capacity_limit" and not re.match(r"capacity_limit\s*\(", guided), guided
    _, before, guided = _three_ways(real_model, zoo, jedi, "def walk(chick: Chick) -> float:\n    # how fast it waddles\n    return chick.")
    assert before.startswith("waddle_speed("), before
    assert _first(guided) == "waddle_speed" and not re.match(r"waddle_speed\s*\(", guided), guided
    # a method is still called
    _, _, guided = _three_ways(real_model, zoo, jedi, "def walk(pingu: Penguin) -> float:\n    pingu.waddle(10)\n    return pingu.")
    assert guided.startswith("waddle("), guided


# -- the switch -----------------------------------------------------------------------------------------


def test_member_rules_switch(monkeypatch):
    assert member_rules_setting("on") == {"hidden", "free", "calls"} and member_rules_setting("off") == set()
    assert member_rules_setting("calls") == {"calls"} and member_rules_setting(" hidden,FREE ") == {"hidden", "free"}
    with pytest.raises(ValueError, match="unknown rule"):
        member_rules_setting("dunders")
    monkeypatch.setenv("MGD_MEMBER_RULES", "off")
    deref = DereferenceMonitor()
    assert not deref.hide_inherited and not deref.check_calls and not deref.free_bare
    monkeypatch.setenv("MGD_MEMBER_RULES", "hidden")
    deref = DereferenceMonitor()
    assert deref.hide_inherited and not deref.check_calls and not deref.free_bare
    monkeypatch.delenv("MGD_MEMBER_RULES")
    deref = DereferenceMonitor()
    assert deref.hide_inherited and deref.check_calls and deref.free_bare
    assert not DereferenceMonitor(check_calls=False).check_calls


def test_without_free_a_bare_receiver_hides_nothing(tokenizer, jedi, path):
    prefix = HEAD + "def f(pingu: Penguin):\n    return pingu.waddle."
    names = DereferenceMonitor(hide_inherited=True, check_calls=True, free_bare=False).allowed_names(
        jedi, Document(path, prefix, "\n"), ""
    )
    assert "__call__" in names and not names.hidden
    processor = MGDLogitsProcessor(tokenizer, jedi, [DereferenceMonitor(hide_inherited=True, check_calls=True, free_bare=False)])
    ids = _ids(tokenizer, prefix)
    processor.add_prompt(ids, Document(path, prefix, "\n"))
    out = processor(torch.tensor([ids]), torch.zeros(1, len(tokenizer)))
    allowed = {processor.index.token_bytes[t] for t in torch.nonzero(out[0] > float("-inf")).flatten().tolist()}
    assert b"__" in allowed and b"books" not in allowed


def test_masks_with_rules_match_the_naive_scan(tokenizer, merging_tokenizer):
    names = {"waddle_speed", "waddle_speed_fn", "size", "__doc__", "__class__", "x"}
    for tok in (tokenizer, merging_tokenizer):
        index = token_index_for(tok)
        trie = NameTrie.build(names, no_call={"waddle_speed", "__doc__", "x"}, checked={"size"}, hidden={"__doc__", "__class__"})
        for root in (trie, trie.narrow):
            for typed in {b""} | {n.encode()[:k] for n in names for k in range(1, len(n) + 1)}:
                node = root.follow(typed)
                if node is not None:
                    assert (index.allowed_mask(node) == index.scan_allowed(node)).all(), typed


# -- helpers for the real model ---------------------------------------------------------------------------


def _first(text: str) -> str:
    return re.match(r"\s*(\w*)", text).group(1)


def _three_ways(real_model, zoo, session, body: str, max_new_tokens: int = 12) -> tuple[str, str, str]:
    """Greedy completions by the real default model at the end of a scratch file:
    unguided, guided by `deref` without the member rules (as before them), and with them."""
    model, tokenizer = real_model
    source = HEAD + body
    path = zoo / "zoo" / "scratch_model.py"
    path.write_text(source)
    line, column = source.count("\n") + 1, len(source.rsplit("\n", 1)[1]) + 1
    common = dict(model=model, tokenizer=tokenizer, max_new_tokens=max_new_tokens)
    without = [DereferenceMonitor(hide_inherited=False, check_calls=False)]
    with_rules = [DereferenceMonitor(hide_inherited=True, check_calls=True)]
    try:
        unguided = mgd.generate(zoo, path, line, column, guided=False, **common)
        before = mgd.generate(zoo, path, line, column, session=session, monitors=without, **common)
        guided = mgd.generate(zoo, path, line, column, session=session, monitors=with_rules, **common)
    finally:
        path.unlink()
    return unguided.text, before.text, guided.text


def test_a_keyword_that_starts_a_longer_word_fires_nothing(tokenizer, jedi, path):
    # `raise` and `except` at a line's start expect a class after a space; `raised` and `exception` are plain names
    prefix = "from zoo.animals import Penguin\n\n\ndef f():\n    except"
    allowed = allowed_after(tokenizer, jedi, path, prefix)
    assert b"ion" in allowed or b"ions" in allowed  # `exception = ...` goes on
    assert b" Penguin" in allowed or b" Pen" in allowed
    assert b" w" not in allowed  # after the space, still a class only (`waddle` is no class)
    # once the word went on, nothing is constrained: the text is `exception`, no trigger
    after = allowed_after(tokenizer, jedi, path, prefix, _ids(tokenizer, "ion"))
    assert b" =" in after and b" w" in after
