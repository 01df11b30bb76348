"""The real default model (SmolLM2-135M-Instruct) with and without guidance."""

from __future__ import annotations

import re

import mgd
from mgd.demo import EXAMPLE_FILE, example_position, run_demo


def _first_name(text: str) -> str:
    return re.match(r"\w*", text).group(0)


def test_guidance_turns_an_invented_member_into_a_real_one(real_model, bookshop, session):
    model, tokenizer = real_model
    result = run_demo(model=model, tokenizer=tokenizer, session=session)
    members = set(result.members)
    assert "lookup_isbn" in members
    # The premise: greedy SmolLM2 invents a member here without guidance.
    assert _first_name(result.unguided.text) not in members, result.unguided.text
    assert result.guided.constrained_steps >= 1
    assert _first_name(result.guided.text) in members, result.guided.text


def test_generate_convenience_on_a_copy(real_model, bookshop, session, list_members):
    model, tokenizer = real_model
    line, column = example_position(bookshop)
    completion = mgd.generate(bookshop, EXAMPLE_FILE, line, column, model=model, tokenizer=tokenizer, session=session)
    text = (bookshop / EXAMPLE_FILE).read_text()
    prefix = "\n".join(text.split("\n")[: line - 1]) + "\n" + text.split("\n")[line - 1][: column - 1]
    members = list_members(session, bookshop / EXAMPLE_FILE, prefix)
    assert _first_name(completion.text) in members
    assert completion.guided and completion.server_queries >= 1


def test_beam_search_and_sampling_with_the_real_model(real_model, bookshop, session, list_members):
    model, tokenizer = real_model
    line, column = example_position(bookshop)
    text = (bookshop / EXAMPLE_FILE).read_text()
    prefix = "\n".join(text.split("\n")[: line - 1]) + "\n" + text.split("\n")[line - 1][: column - 1]
    members = list_members(session, bookshop / EXAMPLE_FILE, prefix)
    common = dict(model=model, tokenizer=tokenizer, session=session, max_new_tokens=8)
    beam = mgd.generate(bookshop, EXAMPLE_FILE, line, column, num_beams=3, **common)
    sampled = mgd.generate(bookshop, EXAMPLE_FILE, line, column, do_sample=True, temperature=1.3, **common)
    for completion in (beam, sampled):
        name = _first_name(completion.text)
        assert name in members or (name == completion.text and any(m.startswith(name) for m in members))
