"""Language-server sessions driven from the synchronous decoding loop."""
