"""A small bookshop: the example project that `mgd demo` completes code in."""
