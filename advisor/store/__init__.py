"""Stage 3: the vector store (embedded Qdrant or a server) and keeping it in sync with the corpus."""
