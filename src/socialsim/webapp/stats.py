"""Full corpus statistics and plots for the stats page, from the evaluation package (``socialsim stats`` and
``socialsim report``), computed once per corpus in a background thread: they tokenise every utterance, which
takes a while on a large corpus, and the page must not block the server meanwhile.
"""

import threading
from dataclasses import dataclass, field
from typing import Literal

from socialsim.corpus.index import Corpus
from socialsim.corpus.readers import read_corpus


@dataclass
class FullStats:
    tables: dict[str, list[list[str]]]  # title -> rows (first row = header)
    plots: list[tuple[str, str, str]]  # (title, caption, PNG data URI)
    note: str


@dataclass
class _Entry:
    state: Literal["computing", "ready", "failed"] = "computing"
    stats: FullStats | None = None
    error: str = ""
    thread: threading.Thread | None = field(default=None, repr=False)


class StatsCache:
    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, corpus: Corpus) -> _Entry:
        """The corpus's statistics entry; the first call starts computing them."""
        with self._lock:
            entry = self._entries.get(corpus.number)
            if entry is None:
                entry = self._entries[corpus.number] = _Entry()
                entry.thread = threading.Thread(target=self._compute, args=(corpus, entry), daemon=True)
                entry.thread.start()
            return entry

    @staticmethod
    def _compute(corpus: Corpus, entry: _Entry) -> None:
        # Imported here, in the worker thread: matplotlib and the tokenizers take seconds to import.
        from socialsim.evaluation.report import figures
        from socialsim.evaluation.stats import corpus_stats, notes, strategy_rows, summary_rows, topic_rows

        try:
            st = corpus_stats(corpus.name, read_corpus(corpus.path, corpus.format))
            tables = {"Summary": summary_rows([st]), "Strategies": strategy_rows([st]), "Topics": topic_rows([st])}
            plots = [(p.title, p.caption, p.data_uri) for p in figures([st], None)]
            entry.stats, entry.state = FullStats(tables, plots, notes([st])), "ready"
        except Exception as exc:  # shown on the page; the server keeps running
            entry.error, entry.state = f"{type(exc).__name__}: {exc}", "failed"
