"""Decoding: the token index over the vocabulary and the logits processor."""
