"""An index of corpora, built once, so a page or a sampled task never loads a whole corpus.

Each dialogue is one JSONL line: the index keeps its byte offset and length plus the few fields the list
filters on (topic, strategies, termination, the safety net's risk kinds and whether a crisis turn went
unaddressed, a snippet, the searchable text in an FTS5 table). Risk is computed in batches of dialogues (the
detector's SQLite cache makes a rebuild cheap). A page reads
its dialogues by seeking to their offsets. Each corpus gets one SQLite database: in memory, or, with a cache
folder, a file named after the corpus's path, size and modification time, so a restart on an unchanged corpus
opens it at once and a changed corpus is indexed again. Mean judge scores (dialogue id -> score), when given, are
loaded beside it at each start so the list can filter on them.
"""

import contextlib
import hashlib
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from socialsim.corpus.atomic import atomic_path
from socialsim.corpus.audit import crisis_turns, prime_safety
from socialsim.corpus.dialogue import Dialogue
from socialsim.corpus.jsonl import iter_lines, read_record
from socialsim.corpus.labels import label_corpora
from socialsim.corpus.readers import FORMATS, format_of, parse_record
from socialsim.errors import InputFileError
from socialsim.safety import RISK_KINDS, default_detector

INDEX_VERSION = 3  # bump when the schema or what is indexed changes: old cache files are then ignored
SNIPPET_CHARS = 160
SAFETY_BATCH = 512  # dialogues whose seeker turns go through the safety net in one batch
UNADDRESSED = "unaddressed"

_SCHEMA = """
CREATE TABLE info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE dialogues (
    row INTEGER PRIMARY KEY, id TEXT NOT NULL, line INTEGER NOT NULL, offset INTEGER NOT NULL,
    length INTEGER NOT NULL, topic TEXT, termination TEXT, turns INTEGER NOT NULL, risk INTEGER NOT NULL,
    risk_kinds TEXT NOT NULL, unaddressed INTEGER NOT NULL, snippet TEXT NOT NULL);
CREATE TABLE strategies (row INTEGER NOT NULL, strategy TEXT NOT NULL, PRIMARY KEY (strategy, row)) WITHOUT ROWID;
CREATE VIRTUAL TABLE search USING fts5(body, tokenize = 'porter unicode61');  -- rowid = row; stemmed
CREATE INDEX by_topic ON dialogues (topic);
CREATE INDEX by_termination ON dialogues (termination);
CREATE INDEX by_id ON dialogues (id);
"""


@dataclass(frozen=True)
class Filters:
    """What the corpus list filters on; every field optional (None or empty = no filter)."""

    topic: str | None = None
    strategy: str | None = None
    termination: str | None = None
    risk: bool | None = None
    risk_kind: str | None = None  # a risk kind, or "unaddressed" (a flagged turn got no real guidance)
    min_judge: float | None = None
    text: str | None = None

    def active(self) -> bool:
        return any(v not in (None, "") for v in vars(self).values())


@dataclass(frozen=True)
class Row:
    """One dialogue as the list shows it (from the index, no file read)."""

    row: int
    id: str
    topic: str | None
    termination: str | None
    turns: int
    risk: bool
    judge: float | None
    snippet: str
    risk_kinds: tuple[str, ...] = ()
    unaddressed: bool = False


@dataclass
class Page:
    rows: list[Row]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass
class Corpus:
    """One served corpus: addressed by its number (position on the command line), never by a path; shown by its
    label (``NAME=PATH`` or a short unique path, :mod:`socialsim.corpus.labels`)."""

    number: int
    path: Path
    format: str
    db: sqlite3.Connection = field(repr=False)
    label: str = ""
    size: int = 0
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # topic/termination/strategy counts
    cached: bool = False  # opened from the cache folder, not indexed now
    summary: dict[str, float | int] = field(default_factory=dict)  # cheap statistics from the index alone
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        return self.label or self.path.name


def _fts_query(text: str) -> str:
    """User text -> an FTS5 query matching all its words (each quoted, so no FTS syntax can be injected)."""
    words = [w.replace('"', '""') for w in text.replace("\x00", " ").split()]  # FTS5 strings end at NUL
    return " ".join(f'"{w}"' for w in words)


class CorpusIndex:
    """All served corpora, indexed. Thread-safe: one lock per corpus around its SQLite connection."""

    def __init__(self, paths: list[str | Path], format: str = "auto", scores: Mapping[str, float] | None = None,
                 cache_dir: Path | None = None) -> None:
        """``paths``: each ``PATH`` or ``NAME=PATH``."""
        self.scores = dict(scores or {})  # dialogue id -> mean LLM-judge score, for the min_judge filter
        self.cache_dir = cache_dir
        self.corpora: list[Corpus] = [self._open(number, c.path, format, c.label)
                                      for number, c in enumerate(label_corpora(paths))]

    # -- building ----------------------------------------------------------------------------------------
    def _open(self, number: int, path: Path, format: str, label: str) -> Corpus:
        if not path.is_file():
            raise InputFileError(str(path), "corpus file not found" if not path.exists() else "not a file")
        if format != "auto" and format not in FORMATS:
            raise InputFileError(str(path), f"unknown corpus format {format!r}",
                                 hint=f"choose one of: auto, {', '.join(FORMATS)}")
        cached = False
        if self.cache_dir is None:
            db = sqlite3.connect(":memory:", check_same_thread=False)
            self._build(db, path, format)
        else:
            stat = path.stat()
            key = hashlib.sha256(f"{INDEX_VERSION}|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{format}"
                                 .encode()).hexdigest()[:16]
            target = self.cache_dir / f"{path.stem}-{key}.sqlite"
            cached = target.is_file()
            if not cached:
                # built beside its final name and renamed: a crash or bad input leaves no half index (nor the
                # folders made for it)
                with atomic_path(target) as tmp, contextlib.closing(sqlite3.connect(tmp)) as building:
                    self._build(building, path, format)
            db = sqlite3.connect(target, check_same_thread=False)
        db.execute("CREATE TEMP TABLE judge (row INTEGER PRIMARY KEY, score REAL NOT NULL)")
        corpus = Corpus(number, path, db.execute("SELECT value FROM info WHERE key='format'").fetchone()[0], db,
                        label=label, cached=cached)
        self._load_judge(corpus)
        corpus.size = db.execute("SELECT COUNT(*) FROM dialogues").fetchone()[0]
        corpus.facets = {
            "topic": self._facet(corpus, "SELECT topic, COUNT(*) FROM dialogues WHERE topic IS NOT NULL "
                                         "GROUP BY topic ORDER BY 2 DESC, 1"),
            "termination": self._facet(corpus, "SELECT termination, COUNT(*) FROM dialogues WHERE termination IS "
                                               "NOT NULL GROUP BY termination ORDER BY 2 DESC, 1"),
            "strategy": self._facet(corpus, "SELECT strategy, COUNT(*) FROM strategies GROUP BY strategy "
                                            "ORDER BY 2 DESC, 1"),
        }
        n, turns, risk, unaddressed = db.execute(
            "SELECT COUNT(*), AVG(turns), SUM(risk), SUM(unaddressed) FROM dialogues").fetchone()
        corpus.summary = {"dialogues": n, "mean_turns": round(turns or 0.0, 2), "risk": risk or 0,
                          "unaddressed": unaddressed or 0,
                          "judged": db.execute("SELECT COUNT(*) FROM judge").fetchone()[0]}
        return corpus

    def _load_judge(self, corpus: Corpus) -> None:
        if not self.scores:
            return
        rows = corpus.db.execute("SELECT row, id FROM dialogues").fetchall()
        scores = [(row, self.scores[did]) for row, did in rows if did in self.scores]
        with corpus.db:
            corpus.db.executemany("INSERT INTO judge VALUES (?, ?)", scores)

    def _scan(self, path: Path, format: str) -> Iterator[tuple[int, int, int, str, Dialogue]]:
        """(line number, offset, length, format name, dialogue) for each record, with file/line errors."""
        fmt = None if format == "auto" else FORMATS[format]
        for line in iter_lines(path):
            if fmt is None:
                fmt = format_of(path, line.record, line.number)
            yield line.number, line.offset, line.length, fmt.name, parse_record(path, fmt, line.record,
                                                                                  line.number)

    @staticmethod
    def _safety(batch: list[Dialogue]) -> list[tuple[list[str], bool]]:
        """(risk kinds, unaddressed) per dialogue: the profile's risk plus the kinds of its flagged seeker turns."""
        detector = default_detector()
        prime_safety(batch, detector)
        out = []
        for dialogue in batch:
            audit = crisis_turns(dialogue, detector)
            found = {k for c in audit for k in c.kinds} | set(dialogue.profile.risk if dialogue.profile else [])
            out.append(([k for k in RISK_KINDS if k in found], any(not c.addressed for c in audit)))
        return out

    def _build(self, db: sqlite3.Connection, path: Path, format: str) -> None:
        db.executescript(_SCHEMA)
        rows, strategies, texts = [], [], []
        fmt_name = format
        batch: list[Dialogue] = []
        for row, (line, offset, length, name, dialogue) in enumerate(self._scan(path, format)):
            fmt_name = name
            seeker_text = [t.text for t in dialogue.turns if t.speaker == "seeker"]
            topic = dialogue.topic or (dialogue.profile.topic if dialogue.profile else None)
            situation = (dialogue.profile.situation if dialogue.profile else None) or dialogue.meta.get("situation")
            first = str(situation or (seeker_text[0] if seeker_text else ""))
            snippet = first if len(first) <= SNIPPET_CHARS else first[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"
            rows.append([row, dialogue.id, line, offset, length, topic, dialogue.termination, len(dialogue.turns),
                         0, "", 0, snippet])
            batch.append(dialogue)
            if len(batch) == SAFETY_BATCH:
                self._add_safety(rows, batch)
            strategies.extend((row, s) for s in {t.strategy for t in dialogue.turns if t.strategy})
            texts.append((row, "\n".join(t.text for t in dialogue.turns)))
        if not rows:
            raise InputFileError(str(path), "the corpus is empty")
        self._add_safety(rows, batch)
        with db:
            db.execute("INSERT INTO info VALUES ('format', ?)", (fmt_name,))
            db.executemany("INSERT INTO dialogues VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            db.executemany("INSERT INTO strategies VALUES (?,?)", strategies)
            db.executemany("INSERT INTO search (rowid, body) VALUES (?,?)", texts)

    def _add_safety(self, rows: list[list], batch: list[Dialogue]) -> None:
        """Fill the risk columns of the last ``len(batch)`` rows, then empty the batch."""
        for row, (kinds, unaddressed) in zip(rows[len(rows) - len(batch):], self._safety(batch), strict=True):
            row[8:11] = [int(bool(kinds)), ",".join(kinds), int(unaddressed)]
        batch.clear()

    @staticmethod
    def _facet(corpus: Corpus, sql: str) -> list[tuple[str, int]]:
        with corpus.lock:
            return [(str(k), int(n)) for k, n in corpus.db.execute(sql)]

    # -- queries -----------------------------------------------------------------------------------------
    def corpus(self, number: int) -> Corpus | None:
        return self.corpora[number] if 0 <= number < len(self.corpora) else None

    def page(self, number: int, filters: Filters, page: int = 1, per_page: int = 25) -> Page:
        """One page of a corpus's dialogues, matching every given filter, in file order."""
        corpus = self.corpora[number]
        where, args = ["1"], []
        for column in ("topic", "termination"):
            value = getattr(filters, column)
            if value:
                where.append(f"d.{column} = ?")
                args.append(value)
        if filters.strategy:
            where.append("d.row IN (SELECT row FROM strategies WHERE strategy = ?)")
            args.append(filters.strategy)
        if filters.risk is not None:
            where.append("d.risk = ?")
            args.append(int(filters.risk))
        if filters.risk_kind == UNADDRESSED:
            where.append("d.unaddressed = 1")
        elif filters.risk_kind:
            where.append("(',' || d.risk_kinds || ',') LIKE ?")
            args.append(f"%,{filters.risk_kind},%")
        if filters.min_judge is not None:
            where.append("j.score >= ?")
            args.append(filters.min_judge)
        if filters.text and (query := _fts_query(filters.text)):
            where.append("d.row IN (SELECT rowid FROM search WHERE search MATCH ?)")
            args.append(query)
        sql_where = " AND ".join(where)
        page = max(1, page)
        source = "dialogues d LEFT JOIN judge j ON j.row = d.row"
        with corpus.lock:
            total = corpus.db.execute(f"SELECT COUNT(*) FROM {source} WHERE {sql_where}", args).fetchone()[0]
            cursor = corpus.db.execute(
                f"SELECT d.row, d.id, d.topic, d.termination, d.turns, d.risk, j.score, d.snippet, d.risk_kinds, "
                f"d.unaddressed FROM {source} WHERE {sql_where} ORDER BY d.row LIMIT ? OFFSET ?",
                [*args, per_page, (page - 1) * per_page])
            rows = [Row(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7], tuple(filter(None, r[8].split(","))),
                        bool(r[9])) for r in cursor]
        return Page(rows, total, page, per_page)

    def read(self, number: int, row: int) -> Dialogue | None:
        """The dialogue at ``row`` of corpus ``number`` (None when there is none), read by seeking."""
        corpus = self.corpus(number)
        if corpus is None or not 0 <= row < corpus.size:
            return None
        with corpus.lock:
            found = corpus.db.execute("SELECT line, offset, length FROM dialogues WHERE row=?", (row,)).fetchone()
        if found is None:
            return None
        line, offset, length = found
        return parse_record(corpus.path, FORMATS[corpus.format], read_record(corpus.path, offset, length), line)

    def rows(self, number: int) -> list[tuple[int, str, str | None]]:
        """(row, id, topic) of every dialogue in a corpus (for sampling annotation tasks)."""
        corpus = self.corpora[number]
        with corpus.lock:
            return list(corpus.db.execute("SELECT row, id, topic FROM dialogues ORDER BY row"))

    def summary(self, number: int) -> dict[str, float | int]:
        """Cheap statistics from the index alone (the full statistics come from the evaluation package)."""
        return self.corpora[number].summary
