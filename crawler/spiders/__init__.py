"""One spider per file, named for what it verifies."""
