"""Guards around what agents read and what people are shown."""
