"""Providers chosen by settings: embedders (and, later, language models)."""
