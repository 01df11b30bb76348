package org.example.shop;

/** What a book is about. */
public enum Genre {
    FICTION,
    HISTORY,
    SCIENCE,
    POETRY
}
