"""Corpus evaluation: quality filters, statistics side by side, an LLM judge and an offline HTML report."""
