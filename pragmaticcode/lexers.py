"""Which lexer reads a language's text for the metrics and the prompt records (`python/lexer`, `java/lexer`)."""

from __future__ import annotations

from mgd.pragmaticcode.java import lexer as java_lexer
from mgd.pragmaticcode.python import lexer as python_lexer


def identifiers(text: str, language: str) -> list[str]:
    """The identifiers of `text`, in order, read with `language`'s lexer."""
    return java_lexer.identifiers(text) if language == "java" else python_lexer.identifiers(text)


def tokens(text: str, language: str) -> list[str]:
    """The lexical tokens of `text` as strings, read with `language`'s lexer."""
    return java_lexer.tokens(text) if language == "java" else [t.text for t in python_lexer.tokens(text)]
