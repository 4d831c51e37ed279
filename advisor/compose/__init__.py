"""Stage 5: answers composed from retrieved articles, with citations."""
