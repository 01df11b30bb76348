package org.example.shop;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Every item the shop stocks, by SKU. */
public class Catalogue {
    private final Map<String, Item> entries = new LinkedHashMap<>();

    public void add(Item item) {
        entries.put(item.getSku(), item);
    }

    public Book findBookByIsbn(String isbn) {
        Item item = entries.get(isbn);
        return item instanceof Book ? (Book) item : null;
    }

    public List<Book> booksBy(String author) {
        List<Book> found = new ArrayList<>();
        for (Item item : entries.values()) {
            if (item instanceof Book && ((Book) item).getAuthor().equals(author)) {
                found.add((Book) item);
            }
        }
        return found;
    }

    public void restock(String sku, int copies) {
        entries.get(sku).addCopies(copies);
    }

    public void restock(Item item, int copies, boolean announce) {
        item.addCopies(copies);
    }

    public int size() {
        return entries.size();
    }
}
