"""Stage 6: the Advisor object and the shells over it (CLI, HTTP API, chat app)."""
