"""The real default model writing Java with JDT.LS guidance, and JDT.LS dying mid-generation."""

from __future__ import annotations

import logging
import os
import pathlib
import time

import pytest

from mgd.completion import complete_document
from mgd.lsp.session import LanguageServerSession

from javashop_faults import BOOK_MEMBERS, KillServerAt, copy_javashop, first_name, report_document

@pytest.fixture(scope="module")
def javashop(tmp_path_factory) -> pathlib.Path:
    return copy_javashop(tmp_path_factory)


def test_guidance_turns_an_invented_member_into_a_real_one(real_model, javashop):
    model, tokenizer = real_model
    document = report_document(javashop)
    unguided = complete_document(document, model=model, tokenizer=tokenizer, guided=False, max_new_tokens=12)[0]
    with LanguageServerSession(javashop, language="java") as session:
        guided = complete_document(document, model=model, tokenizer=tokenizer, session=session, max_new_tokens=12)[0]
    assert first_name(unguided.text) not in BOOK_MEMBERS, unguided.text  # the model invents a getter
    assert first_name(guided.text) in BOOK_MEMBERS, guided.text
    assert guided.constrained_steps > 0


def test_killing_jdtls_mid_generation_lets_generation_finish_unguided(real_model, javashop, caplog):
    model, tokenizer = real_model
    document = report_document(javashop)
    session = LanguageServerSession(javashop, language="java", max_restarts=0, request_timeout=5.0)
    session.start()
    try:
        killer = KillServerAt(session, step=2)
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="mgd"):
            # `stop_at_newline=False`: more member accesses follow, so the dead server is asked again.
            done = complete_document(
                document, model=model, tokenizer=tokenizer, session=session, max_new_tokens=24,
                stop_at_newline=False, logits_processors=[killer],
            )[0]  # fmt: skip
        elapsed = time.monotonic() - started
    finally:
        session.close()
    assert killer.killed_pid is not None
    assert done.new_tokens == 24  # generation ran to its end
    assert elapsed < 60, elapsed  # bounded: one failed query, then no more waiting
    assert not session.available
    assert any("language server" in r.getMessage() for r in caplog.records)
    with pytest.raises(ProcessLookupError):
        os.kill(killer.killed_pid, 0)
