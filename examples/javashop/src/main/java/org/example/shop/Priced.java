package org.example.shop;

/** Anything with a price in cents. */
public interface Priced {
    long priceInCents();
}
