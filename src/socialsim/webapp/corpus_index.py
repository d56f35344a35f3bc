"""An index of the served corpora, built once at start-up, so pages never load a whole corpus.

Each dialogue is one JSONL line: the index keeps its byte offset and length plus the few fields the list
filters on (topic, strategies, termination, risk, judge score, a snippet, the searchable text in an FTS5
table). A page reads its dialogues by seeking to their offsets. The SQLite database lives in memory: it is
rebuilt from the files at each start, so it can never disagree with them.
"""

import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from socialsim.corpus.dialogue import Dialogue
from socialsim.corpus.readers import FORMATS, detect_format
from socialsim.errors import InputFileError
from socialsim.safety import detect_risk

SNIPPET_CHARS = 160

_SCHEMA = """
CREATE TABLE dialogues (
    corpus INTEGER NOT NULL, row INTEGER NOT NULL, id TEXT NOT NULL, line INTEGER NOT NULL,
    offset INTEGER NOT NULL, length INTEGER NOT NULL, topic TEXT, termination TEXT, turns INTEGER NOT NULL,
    risk INTEGER NOT NULL, judge REAL, snippet TEXT NOT NULL, PRIMARY KEY (corpus, row));
CREATE TABLE strategies (corpus INTEGER NOT NULL, row INTEGER NOT NULL, strategy TEXT NOT NULL,
    PRIMARY KEY (corpus, strategy, row)) WITHOUT ROWID;
CREATE VIRTUAL TABLE search USING fts5(body, corpus UNINDEXED, row UNINDEXED);
CREATE INDEX by_topic ON dialogues (corpus, topic);
CREATE INDEX by_termination ON dialogues (corpus, termination);
CREATE INDEX by_id ON dialogues (corpus, id);
"""


@dataclass(frozen=True)
class Filters:
    """What the corpus list filters on; every field optional (None or empty = no filter)."""

    topic: str | None = None
    strategy: str | None = None
    termination: str | None = None
    risk: bool | None = None
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
    """One served corpus: addressed by its number (position on the command line), never by a path."""

    number: int
    path: Path
    format: str
    size: int = 0
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # topic/termination/strategy counts

    @property
    def name(self) -> str:
        return self.path.name


def _judge_mean(dialogue: Dialogue) -> float | None:
    """Mean judge score recorded in the dialogue's metadata (``meta["judge"]["scores"]``), if any."""
    judge = dialogue.meta.get("judge")
    scores = judge.get("scores") if isinstance(judge, dict) else None
    if isinstance(scores, dict):
        values = [float(v) for v in scores.values() if isinstance(v, int | float)]
        return sum(values) / len(values) if values else None
    return None


def _fts_query(text: str) -> str:
    """User text -> an FTS5 query matching all its words (each quoted, so no FTS syntax can be injected)."""
    words = [w.replace('"', '""') for w in text.split()]
    return " ".join(f'"{w}"' for w in words)


class CorpusIndex:
    """All served corpora, indexed. Thread-safe: one lock around the in-memory SQLite connection."""

    def __init__(self, paths: list[Path], format: str = "auto") -> None:
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self.corpora: list[Corpus] = []
        for number, path in enumerate(paths):
            self.corpora.append(self._index(number, Path(path), format))

    # -- building ----------------------------------------------------------------------------------------
    def _scan(self, path: Path, format: str) -> Iterator[tuple[int, int, int, str, Dialogue]]:
        """(line number, offset, length, format name, dialogue) for each record, with file/line errors."""
        if not path.is_file():
            raise InputFileError(str(path), "corpus file not found" if not path.exists() else "not a file")
        fmt = None if format == "auto" else FORMATS.get(format)
        if format != "auto" and fmt is None:
            raise InputFileError(str(path), f"unknown corpus format {format!r}",
                                 hint=f"choose one of: auto, {', '.join(FORMATS)}")
        offset = 0
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                start, offset = offset, offset + len(raw)
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except UnicodeDecodeError as exc:
                    raise InputFileError(str(path), f"not valid UTF-8 ({exc.reason})", number, exc.start + 1) from None
                except json.JSONDecodeError as exc:
                    raise InputFileError(str(path), f"invalid JSON ({exc.msg})", number, exc.colno) from None
                if not isinstance(record, dict):
                    raise InputFileError(str(path), "expected a JSON object", number, 1)
                if fmt is None:
                    name = detect_format(record)
                    if name is None:
                        raise InputFileError(str(path), "unrecognised corpus record", number, 1,
                                             f"supported formats: {', '.join(FORMATS)}")
                    fmt = FORMATS[name]
                yield number, start, len(raw), fmt.name, self._parse(path, fmt.name, record, number)

    @staticmethod
    def _parse(path: Path, format: str, record: dict, line: int) -> Dialogue:
        try:
            return FORMATS[format].parse(record, f"{path.stem}:{line}")
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise InputFileError(str(path), f"not a valid {format} record ({exc})", line, 1) from None

    def _index(self, number: int, path: Path, format: str) -> Corpus:
        rows, strategies, texts = [], [], []
        fmt_name = format
        for row, (line, offset, length, name, dialogue) in enumerate(self._scan(path, format)):
            fmt_name = name
            seeker_text = [t.text for t in dialogue.turns if t.speaker == "seeker"]
            risk = bool(dialogue.profile and dialogue.profile.risk) or any(detect_risk(t) for t in seeker_text)
            topic = dialogue.topic or (dialogue.profile.topic if dialogue.profile else None)
            first = seeker_text[0] if seeker_text else (dialogue.turns[0].text if dialogue.turns else "")
            snippet = first if len(first) <= SNIPPET_CHARS else first[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"
            rows.append((number, row, dialogue.id, line, offset, length, topic, dialogue.termination,
                         len(dialogue.turns), int(risk), _judge_mean(dialogue), snippet))
            strategies.extend((number, row, s) for s in {t.strategy for t in dialogue.turns if t.strategy})
            texts.append(("\n".join(t.text for t in dialogue.turns), number, row))
        if not rows:
            raise InputFileError(str(path), "the corpus is empty")
        with self._lock, self._db:
            self._db.executemany("INSERT INTO dialogues VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            self._db.executemany("INSERT INTO strategies VALUES (?,?,?)", strategies)
            self._db.executemany("INSERT INTO search (body, corpus, row) VALUES (?,?,?)", texts)
        corpus = Corpus(number, path, fmt_name, len(rows))
        corpus.facets = {
            "topic": self._facet("SELECT topic, COUNT(*) FROM dialogues WHERE corpus=? AND topic IS NOT NULL "
                                 "GROUP BY topic ORDER BY 2 DESC, 1", number),
            "termination": self._facet("SELECT termination, COUNT(*) FROM dialogues WHERE corpus=? AND "
                                       "termination IS NOT NULL GROUP BY termination ORDER BY 2 DESC, 1", number),
            "strategy": self._facet("SELECT strategy, COUNT(*) FROM strategies WHERE corpus=? GROUP BY strategy "
                                    "ORDER BY 2 DESC, 1", number),
        }
        return corpus

    def _facet(self, sql: str, number: int) -> list[tuple[str, int]]:
        with self._lock:
            return [(str(k), int(n)) for k, n in self._db.execute(sql, (number,))]

    # -- queries -----------------------------------------------------------------------------------------
    def corpus(self, number: int) -> Corpus | None:
        return self.corpora[number] if 0 <= number < len(self.corpora) else None

    def page(self, number: int, filters: Filters, page: int = 1, per_page: int = 25) -> Page:
        """One page of a corpus's dialogues, matching every given filter, in file order."""
        where, args = ["d.corpus = ?"], [number]
        for column in ("topic", "termination"):
            value = getattr(filters, column)
            if value:
                where.append(f"d.{column} = ?")
                args.append(value)
        if filters.strategy:
            where.append("EXISTS (SELECT 1 FROM strategies s WHERE s.corpus = d.corpus AND s.row = d.row "
                         "AND s.strategy = ?)")
            args.append(filters.strategy)
        if filters.risk is not None:
            where.append("d.risk = ?")
            args.append(int(filters.risk))
        if filters.min_judge is not None:
            where.append("d.judge >= ?")
            args.append(filters.min_judge)
        if filters.text and filters.text.strip():
            where.append("d.row IN (SELECT row FROM search WHERE search MATCH ? AND corpus = ?)")
            args.extend([_fts_query(filters.text), number])
        sql_where = " AND ".join(where)
        page = max(1, page)
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM dialogues d WHERE {sql_where}", args).fetchone()[0]
            cursor = self._db.execute(
                f"SELECT row, id, topic, termination, turns, risk, judge, snippet FROM dialogues d "
                f"WHERE {sql_where} ORDER BY d.row LIMIT ? OFFSET ?", [*args, per_page, (page - 1) * per_page])
            rows = [Row(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7]) for r in cursor]
        return Page(rows, total, page, per_page)

    def read(self, number: int, row: int) -> Dialogue | None:
        """The dialogue at ``row`` of corpus ``number`` (None when there is none), read by seeking."""
        corpus = self.corpus(number)
        if corpus is None:
            return None
        with self._lock:
            found = self._db.execute("SELECT line, offset, length FROM dialogues WHERE corpus=? AND row=?",
                                     (number, row)).fetchone()
        if found is None:
            return None
        line, offset, length = found
        with corpus.path.open("rb") as handle:
            handle.seek(offset)
            record = json.loads(handle.read(length))
        return self._parse(corpus.path, corpus.format, record, line)

    def rows(self, number: int) -> list[tuple[int, str, str | None]]:
        """(row, id, topic) of every dialogue in a corpus (for sampling annotation tasks)."""
        with self._lock:
            return list(self._db.execute("SELECT row, id, topic FROM dialogues WHERE corpus=? ORDER BY row",
                                         (number,)))

    def summary(self, number: int) -> dict[str, float | int]:
        """Cheap statistics from the index alone (the full statistics come from the evaluation package)."""
        with self._lock:
            n, turns, risk, judged = self._db.execute(
                "SELECT COUNT(*), AVG(turns), SUM(risk), COUNT(judge) FROM dialogues WHERE corpus=?",
                (number,)).fetchone()
        return {"dialogues": n, "mean_turns": round(turns or 0.0, 2), "risk": risk or 0, "judged": judged}
