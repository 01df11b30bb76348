package org.example.shop;

/** Something the shop stocks. */
public abstract class Item implements Priced {
    private final String sku;
    private int copiesLeft;

    protected Item(String sku, int copiesLeft) {
        this.sku = sku;
        this.copiesLeft = copiesLeft;
    }

    public String getSku() {
        return sku;
    }

    public int copiesLeft() {
        return copiesLeft;
    }

    public void addCopies(int copies) {
        copiesLeft += copies;
    }

    public abstract String describe();
}
