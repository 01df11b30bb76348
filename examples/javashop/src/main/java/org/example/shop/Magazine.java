package org.example.shop;

/** A periodical, sold by issue. */
public class Magazine extends Item {
    private final String name;
    private final int issue;

    public Magazine(String sku, String name, int issue, int copies) {
        super(sku, copies);
        this.name = name;
        this.issue = issue;
    }

    public int getIssue() {
        return issue;
    }

    @Override
    public long priceInCents() {
        return 450;
    }

    @Override
    public String describe() {
        return name + " #" + issue;
    }
}
