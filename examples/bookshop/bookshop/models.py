"""The bookshop's records."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Book:
    """One title on the shelves."""

    isbn: str
    title: str
    author: str
    price_cents: int
    copies_on_shelf: int = 0

    def shelf_value_cents(self) -> int:
        """What the copies on the shelf are worth."""
        return self.price_cents * self.copies_on_shelf


@dataclass
class Catalogue:
    """Every book the shop lists, by ISBN."""

    entries: dict[str, Book] = field(default_factory=dict)

    def register(self, book: Book) -> None:
        """List a book (replacing an older record with the same ISBN)."""
        self.entries[book.isbn] = book

    def lookup_isbn(self, isbn: str) -> Book | None:
        """The book with this ISBN, if listed."""
        return self.entries.get(isbn)

    def titles_by(self, author: str) -> list[Book]:
        """Books written by `author`."""
        return [b for b in self.entries.values() if b.author == author]

    def restock(self, isbn: str, copies: int) -> None:
        """Put more copies of a listed book on the shelf."""
        self.entries[isbn].copies_on_shelf += copies
