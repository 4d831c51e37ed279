"""Stage 2: turn the corpus into chunks with dense texts and BM25-style sparse vectors."""
