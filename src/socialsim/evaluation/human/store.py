"""Human evaluation tasks and ratings, stored in SQLite so they survive restarts.

A task holds items: single dialogues (rated 1-5 on each rubric dimension) or pairs of dialogues from two
corpora (A and B; the annotator picks left, right or tie per dimension). The dialogues are copied into the task,
so what an annotator saw is kept exactly even if the corpus files change. For a pair the side shown on the left
is drawn at random and recorded. One row per judgement (task, item, annotator, dimension), enforced by a unique
constraint; each submission carries an idempotency token so a double click or a re-sent form stores nothing twice.
Beside the ratings, an annotator may leave a comment on an item, flag it (harmful, broken) or skip it (a note).
"""

import json
import random
import re
import secrets
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from socialsim.corpus.dialogue import Dialogue
from socialsim.errors import SocialsimError
from socialsim.evaluation.human.rubric import CHOICES, DIMENSIONS, SCORES

TaskKind = Literal["single", "pairwise"]
ANNOTATOR_RE = re.compile(r"^[\w.@+ -]{1,40}$")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_COMMENT = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('single', 'pairwise')),
    dimensions TEXT NOT NULL, corpus_a TEXT NOT NULL, corpus_b TEXT, seed INTEGER, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    task_id TEXT NOT NULL REFERENCES tasks(id), item_no INTEGER NOT NULL,
    dialogue_a TEXT NOT NULL, dialogue_b TEXT, left_side TEXT NOT NULL CHECK (left_side IN ('A', 'B')),
    PRIMARY KEY (task_id, item_no));
CREATE TABLE IF NOT EXISTS submissions (
    token TEXT PRIMARY KEY, task_id TEXT NOT NULL, item_no INTEGER NOT NULL, annotator TEXT NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notes (
    task_id TEXT NOT NULL, item_no INTEGER NOT NULL, annotator TEXT NOT NULL, skipped INTEGER NOT NULL,
    flagged INTEGER NOT NULL, comment TEXT NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (task_id, item_no, annotator), FOREIGN KEY (task_id, item_no) REFERENCES items(task_id, item_no));
CREATE TABLE IF NOT EXISTS ratings (
    id INTEGER PRIMARY KEY, task_id TEXT NOT NULL, item_no INTEGER NOT NULL, annotator TEXT NOT NULL,
    dimension TEXT NOT NULL, value TEXT NOT NULL, token TEXT NOT NULL, created_at TEXT NOT NULL,
    UNIQUE (task_id, item_no, annotator, dimension),
    FOREIGN KEY (task_id, item_no) REFERENCES items(task_id, item_no));
"""


class SubmissionError(SocialsimError):
    """A rating submission that is not valid (unknown task or item, missing or out-of-range values)."""


@dataclass(frozen=True)
class Task:
    id: str
    name: str
    kind: TaskKind
    dimensions: tuple[str, ...]
    corpus_a: str
    corpus_b: str | None
    seed: int | None
    created_at: str
    items: int
    note: str = ""  # what the organiser should know about how the task was sampled (fewer items, cut dialogues)


@dataclass(frozen=True)
class Note:
    """An annotator's comment, flag or skip of one item."""

    task_id: str
    item_no: int
    annotator: str
    skipped: bool
    flagged: bool
    comment: str
    created_at: str


@dataclass(frozen=True)
class Item:
    task_id: str
    item_no: int
    a: Dialogue
    b: Dialogue | None
    left_side: Literal["A", "B"]

    @property
    def shown(self) -> list[Dialogue]:
        """The dialogues in the order they are shown (left/first, then right/second)."""
        if self.b is None:
            return [self.a]
        return [self.a, self.b] if self.left_side == "A" else [self.b, self.a]


@dataclass(frozen=True)
class Rating:
    task_id: str
    item_no: int
    annotator: str
    dimension: str
    value: str  # "1".."5" (single) or "A", "B", "tie" (pairwise, in corpus terms, not screen positions)
    created_at: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_token() -> str:
    """An idempotency token for one rendered rating form."""
    return secrets.token_urlsafe(16)


class AnnotationStore:
    """Tasks, items and ratings in one SQLite file (WAL, synchronous=FULL: a stored rating survives a crash)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise SocialsimError(f"{self.path} is a folder", "give the annotation database's file path")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            if "note" not in {row[1] for row in self._db.execute("PRAGMA table_info(tasks)")}:
                self._db.execute("ALTER TABLE tasks ADD COLUMN note TEXT NOT NULL DEFAULT ''")  # a 0.1.0 database
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise SocialsimError(f"{self.path}: not an annotation database ({exc})",
                                 "give the file `socialsim serve` or `annotate create` made, or a new path") from None

    def close(self) -> None:
        self._db.close()

    # -- tasks -------------------------------------------------------------------------------------------
    def create_task(self, name: str, items: Sequence[Dialogue | tuple[Dialogue, Dialogue]], *, corpus_a: str,
                    corpus_b: str | None = None, dimensions: Sequence[str] = DIMENSIONS,
                    seed: int | None = None, note: str = "") -> Task:
        """Store a task. Items are single dialogues, or (A, B) pairs whose screen order is drawn with ``seed``."""
        if not items:
            raise SocialsimError("a task needs at least one item")
        unknown = [d for d in dimensions if d not in DIMENSIONS]
        if unknown or not dimensions:
            raise SocialsimError(f"unknown rubric dimensions: {', '.join(unknown) or '(none given)'}",
                                 f"choose from: {', '.join(DIMENSIONS)}")
        pairwise = isinstance(items[0], tuple)
        if any(isinstance(i, tuple) != pairwise for i in items):
            raise SocialsimError("a task's items must be all pairs or all single dialogues")
        if pairwise and not corpus_b:
            raise SocialsimError("a pairwise task needs the name of corpus B")
        rng = random.Random(seed)
        task_id = secrets.token_urlsafe(9)
        while task_id.startswith("-"):  # an id is also a command-line argument (`socialsim annotate export ID`)
            task_id = secrets.token_urlsafe(9)
        kind: TaskKind = "pairwise" if pairwise else "single"
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT INTO tasks (id, name, kind, dimensions, corpus_a, corpus_b, seed, created_at, "
                             "note) VALUES (?,?,?,?,?,?,?,?,?)",
                             (task_id, name, kind, json.dumps(list(dimensions)), corpus_a,
                              corpus_b if pairwise else None, seed, _now(), note))
            for item_no, item in enumerate(items):
                a, b = item if isinstance(item, tuple) else (item, None)
                self._db.execute("INSERT INTO items VALUES (?,?,?,?,?)",
                                 (task_id, item_no, a.model_dump_json(), b.model_dump_json() if b else None,
                                  rng.choice("AB") if b else "A"))
        task = self.task(task_id)
        assert task is not None
        return task

    _TASK = ("SELECT id, name, kind, dimensions, corpus_a, corpus_b, seed, created_at, "
             "(SELECT COUNT(*) FROM items i WHERE i.task_id = t.id), note FROM tasks t")

    def task(self, task_id: str) -> Task | None:
        row = self._db.execute(f"{self._TASK} WHERE id=?", (task_id,)).fetchone()
        return self._task(row) if row else None

    def tasks(self) -> list[Task]:
        rows = self._db.execute(f"{self._TASK} ORDER BY created_at DESC, id").fetchall()
        return [self._task(r) for r in rows]

    @staticmethod
    def _task(row: tuple) -> Task:
        return Task(row[0], row[1], row[2], tuple(json.loads(row[3])), *row[4:])

    def item(self, task_id: str, item_no: int) -> Item | None:
        row = self._db.execute("SELECT dialogue_a, dialogue_b, left_side FROM items WHERE task_id=? AND item_no=?",
                               (task_id, item_no)).fetchone()
        if row is None:
            return None
        b = Dialogue.model_validate_json(row[1]) if row[1] else None
        return Item(task_id, item_no, Dialogue.model_validate_json(row[0]), b, row[2])

    def items(self, task_id: str) -> Iterable[Item]:
        for (item_no,) in self._db.execute("SELECT item_no FROM items WHERE task_id=? ORDER BY item_no",
                                           (task_id,)).fetchall():
            item = self.item(task_id, item_no)
            assert item is not None
            yield item

    # -- ratings -----------------------------------------------------------------------------------------
    def _check(self, task_id: str, item_no: int, annotator: str, token: str, comment: str) -> tuple[Task, Item]:
        task = self.task(task_id)
        if task is None:
            raise SubmissionError(f"unknown task {task_id!r}")
        item = self.item(task_id, item_no)
        if item is None:
            raise SubmissionError(f"task {task_id!r} has no item {item_no}")
        if not ANNOTATOR_RE.match(annotator):
            raise SubmissionError("annotator name: 1-40 letters, digits, spaces or . _ - @ +")
        if not TOKEN_RE.match(token):
            raise SubmissionError("missing or malformed submission token", "reload the page and submit again")
        if len(comment) > MAX_COMMENT:
            raise SubmissionError(f"the comment is longer than {MAX_COMMENT} characters")
        return task, item

    def _claim(self, token: str, task_id: str, item_no: int, annotator: str, now: str) -> bool:
        """Record the submission token inside the open transaction; False when it was used already."""
        cursor = self._db.execute("INSERT OR IGNORE INTO submissions VALUES (?,?,?,?,?)",
                                  (token, task_id, item_no, annotator, now))
        return cursor.rowcount > 0

    def _set_note(self, task_id: str, item_no: int, annotator: str, skipped: bool, flagged: bool, comment: str,
                  now: str) -> None:
        if not (skipped or flagged or comment):
            self._db.execute("DELETE FROM notes WHERE task_id=? AND item_no=? AND annotator=?",
                             (task_id, item_no, annotator))
            return
        self._db.execute("INSERT INTO notes VALUES (?,?,?,?,?,?,?) ON CONFLICT (task_id, item_no, annotator) DO "
                         "UPDATE SET skipped=excluded.skipped, flagged=excluded.flagged, comment=excluded.comment, "
                         "created_at=excluded.created_at",
                         (task_id, item_no, annotator, int(skipped), int(flagged), comment, now))

    def submit(self, task_id: str, item_no: int, annotator: str, values: Mapping[str, str], token: str, *,
               comment: str = "", flagged: bool = False) -> bool:
        """Validate and store one item's ratings (one row per dimension) atomically, with the annotator's comment
        and flag.

        ``values`` maps each of the task's dimensions to "1".."5" (single) or "left"/"right"/"tie" (pairwise,
        screen positions; stored as corpus A/B). Returns False when ``token`` was already used (a double
        submit: nothing is stored again). Rating an item again with a new token replaces the earlier values,
        still one row per judgement.
        """
        annotator, comment = annotator.strip(), comment.strip()
        task, item = self._check(task_id, item_no, annotator, token, comment)
        allowed = CHOICES if task.kind == "pairwise" else SCORES
        missing = [d for d in task.dimensions if values.get(d) not in allowed]
        if missing:
            raise SubmissionError(f"missing or invalid rating for: {', '.join(missing)}",
                                  f"each dimension needs one of: {', '.join(allowed)}")
        extra = sorted(set(values) - set(task.dimensions))
        if extra:
            raise SubmissionError(f"not a dimension of this task: {', '.join(extra)}")
        stored = {d: self._to_corpus_terms(values[d], item) if task.kind == "pairwise" else values[d]
                  for d in task.dimensions}
        now = _now()
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if not self._claim(token, task_id, item_no, annotator, now):
                return False
            self._set_note(task_id, item_no, annotator, False, flagged, comment, now)
            self._db.executemany(
                "INSERT INTO ratings (task_id, item_no, annotator, dimension, value, token, created_at) "
                "VALUES (?,?,?,?,?,?,?) ON CONFLICT (task_id, item_no, annotator, dimension) "
                "DO UPDATE SET value=excluded.value, token=excluded.token, created_at=excluded.created_at",
                [(task_id, item_no, annotator, d, v, token, now) for d, v in stored.items()])
        return True

    def skip(self, task_id: str, item_no: int, annotator: str, token: str, *, comment: str = "",
             flagged: bool = False) -> bool:
        """Skip an item: the annotator's earlier ratings of it are removed and the skip is noted (with a comment
        and flag if given). Returns False for a token already used."""
        annotator, comment = annotator.strip(), comment.strip()
        self._check(task_id, item_no, annotator, token, comment)
        now = _now()
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if not self._claim(token, task_id, item_no, annotator, now):
                return False
            self._db.execute("DELETE FROM ratings WHERE task_id=? AND item_no=? AND annotator=?",
                             (task_id, item_no, annotator))
            self._set_note(task_id, item_no, annotator, True, flagged, comment, now)
        return True

    def notes(self, task_id: str, annotator: str | None = None) -> list[Note]:
        sql = "SELECT * FROM notes WHERE task_id=?"
        args: list[object] = [task_id]
        if annotator is not None:
            sql += " AND annotator=?"
            args.append(annotator)
        return [Note(r[0], r[1], r[2], bool(r[3]), bool(r[4]), r[5], r[6])
                for r in self._db.execute(sql + " ORDER BY item_no, annotator", args)]

    def note(self, task_id: str, item_no: int, annotator: str) -> Note | None:
        return next((n for n in self.notes(task_id, annotator) if n.item_no == item_no), None)

    @staticmethod
    def _to_corpus_terms(choice: str, item: Item) -> str:
        if choice == "tie":
            return "tie"
        left = item.left_side
        return left if choice == "left" else ("B" if left == "A" else "A")

    def ratings(self, task_id: str, annotator: str | None = None) -> list[Rating]:
        sql = "SELECT task_id, item_no, annotator, dimension, value, created_at FROM ratings WHERE task_id=?"
        args: list[object] = [task_id]
        if annotator is not None:
            sql += " AND annotator=?"
            args.append(annotator)
        return [Rating(*r) for r in self._db.execute(sql + " ORDER BY item_no, annotator, dimension", args)]

    def screen_values(self, task_id: str, item_no: int, annotator: str) -> dict[str, str]:
        """An annotator's stored ratings of one item, as they appear on screen (to pre-fill the form)."""
        item = self.item(task_id, item_no)
        out = {}
        for r in self.ratings(task_id, annotator):
            if r.item_no != item_no or item is None:
                continue
            if item.b is None or r.value == "tie":
                out[r.dimension] = r.value
            else:
                out[r.dimension] = "left" if r.value == item.left_side else "right"
        return out

    def progress(self, task_id: str, annotator: str) -> set[int]:
        """Item numbers the annotator has rated."""
        return {r[0] for r in self._db.execute(
            "SELECT DISTINCT item_no FROM ratings WHERE task_id=? AND annotator=?", (task_id, annotator))}

    def skipped(self, task_id: str, annotator: str) -> set[int]:
        """Item numbers the annotator has skipped."""
        return {n.item_no for n in self.notes(task_id, annotator) if n.skipped}

    def annotators(self, task_id: str) -> dict[str, int]:
        """Annotator -> items rated."""
        return dict(self._db.execute("SELECT annotator, COUNT(DISTINCT item_no) FROM ratings WHERE task_id=? "
                                     "GROUP BY annotator ORDER BY annotator", (task_id,)).fetchall())
