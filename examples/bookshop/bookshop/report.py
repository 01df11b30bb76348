"""Reports over the catalogue."""

from __future__ import annotations

from .models import Book, Catalogue


def stock_value_cents(catalogue: Catalogue) -> int:
    """Total value of every book on the shelves, in cents."""
    total = 0
    for book in catalogue.entries.values():
        total += book.shelf_value_cents()
    return total


def find_book(catalogue: Catalogue, isbn: str) -> Book | None:
    """The book with this ISBN, or None."""
    return catalogue.lookup_isbn(isbn)
