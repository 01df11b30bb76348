package org.example.shop;

/** Short texts about what is on the shelves. */
public class Report {
    private final Catalogue catalogue;

    public Report(Catalogue catalogue) {
        this.catalogue = catalogue;
    }

    public String titleOf(String isbn) {
        Book book = catalogue.findBookByIsbn(isbn);
        return book == null ? "unknown" : book.getTitle();
    }

    public String shelfFor(Book book) {
        switch (book.getGenre()) {
            case FICTION:
                return "A";
            case HISTORY:
                return "B";
            default:
                return "C";
        }
    }

    public Item sample() {
        return new Magazine("m-1", "Monthly", 1, 10);
    }

    public int stockedItems() {
        return catalogue.size();
    }
}
