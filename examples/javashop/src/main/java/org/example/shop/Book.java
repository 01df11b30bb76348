package org.example.shop;

/** A book on the shelves. */
public class Book extends Item {
    private final String title;
    private final String author;
    private final Genre genre;
    private final long priceInCents;

    public Book(String isbn, String title, String author, Genre genre, long priceInCents, int copies) {
        super(isbn, copies);
        this.title = title;
        this.author = author;
        this.genre = genre;
        this.priceInCents = priceInCents;
    }

    public String getTitle() {
        return title;
    }

    public String getAuthor() {
        return author;
    }

    public Genre getGenre() {
        return genre;
    }

    @Override
    public long priceInCents() {
        return priceInCents;
    }

    @Override
    public String describe() {
        return title + " by " + author;
    }
}
