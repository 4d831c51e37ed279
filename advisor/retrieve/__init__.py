"""Stage 4: hybrid retrieval over the store, filtered to the versions in force."""
