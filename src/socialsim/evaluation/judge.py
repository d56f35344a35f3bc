"""A multi-turn LLM judge of support dialogues: per-dialogue rubric scores and pairwise corpus comparison.

- Any role's backend (``RoleBackends.get("judge")``), structured output with enum scores (llama.cpp grammars
  enforce enums, not integer bounds) and length-capped justifications.
- Judging is one task on the engine (:mod:`socialsim.engine`): judgements are appended (fsync) to a results file
  keyed by dialogue id(s) + rubric hash, so an interrupted run resumes where it stopped; the request cache makes
  repeated calls free as well.
- A reply that cannot be parsed is re-asked (``complete_structured``), then recorded as *failed* with the error:
  failures are counted and reported, never skipped. A backend that is down (connection refused after its
  retries) is not a verdict: that item goes to the failures file beside the results and the next run retries it.
- Pairwise: each pair is judged twice with A and B swapped; a side wins only if it wins in both orders, anything
  else is a tie, which cancels position bias. Win/tie/loss come with Wilson 95% intervals.
"""

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from socialsim.corpus.dialogue import Dialogue
from socialsim.corpus.jsonl import iter_jsonl
from socialsim.engine import Item, RunOptions, RunReport, Task, run_task
from socialsim.evaluation.config import JudgeConfig
from socialsim.evaluation.intervals import bootstrap_mean, wilson
from socialsim.evaluation.pairing import topic_of
from socialsim.evaluation.transcript import profile_text, transcript
from socialsim.llm.base import Backend
from socialsim.llm.structured import StructuredOutputError, complete_structured
from socialsim.llm.types import Message
from socialsim.prompts import render, template_hash

Score = Literal[1, 2, 3, 4, 5]
Side = Literal["A", "B", "tie"]
REASON_CHARS = 120
DIMENSIONS: tuple[str, ...] = ("informativeness", "understanding", "helpfulness", "coherence", "naturalness",
                               "strategy", "persona_consistency", "safety")
PAIR_DIMENSIONS: tuple[str, ...] = ("informativeness", "understanding", "helpfulness", "overall")


class Rated(BaseModel):
    reason: str = Field(max_length=REASON_CHARS)
    score: Score


class DialogueScores(BaseModel):
    informativeness: Rated
    understanding: Rated
    helpfulness: Rated
    coherence: Rated
    naturalness: Rated
    strategy: Rated
    persona_consistency: Rated
    safety: Rated


class PairVerdict(BaseModel):
    reason: str = Field(max_length=REASON_CHARS)
    informativeness: Side
    understanding: Side
    helpfulness: Side
    overall: Side


assert tuple(DialogueScores.model_fields) == DIMENSIONS
assert tuple(PairVerdict.model_fields)[1:] == PAIR_DIMENSIONS


class Judge:
    """Scores dialogues and compares pairs with one backend; results go to ``results_path``."""

    def __init__(self, backend: Backend, cfg: JudgeConfig, results_path: Path, max_attempts: int = 3) -> None:
        self.backend, self.cfg, self.max_attempts = backend, cfg, max_attempts
        self.results_path = Path(results_path)
        self.sampling = backend.default_sampling().with_(temperature=cfg.temperature, max_tokens=cfg.max_tokens)
        self.last_run: RunReport | None = None

    def rubric_hash(self, kind: Literal["score", "pair"]) -> str:
        """Fingerprint of everything that determines a verdict besides the dialogue: prompts, schema, model,
        sampling and transcript settings. A change in any of them means new judgements."""
        template = "judge/score.j2" if kind == "score" else "judge/pairwise.j2"
        schema = DialogueScores if kind == "score" else PairVerdict
        blob = json.dumps({"templates": [template_hash("judge/system.j2"), template_hash(template)],
                           "schema": schema.model_json_schema(), "model": self.backend.model_id,
                           "sampling": [self.sampling.temperature, self.sampling.max_tokens, self.sampling.seed],
                           "transcript": [self.cfg.max_transcript_words, self.cfg.max_turn_words]}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def _messages(self, user: str) -> list[Message]:
        return [{"role": "system", "content": render("judge/system.j2")}, {"role": "user", "content": user}]

    async def _ask(self, user: str, schema: type[BaseModel]) -> tuple[BaseModel | None, dict[str, Any]]:
        """The verdict, or None with the error when the model never gave a valid one (a verdict of *failed*).
        A backend error (server down) propagates: the engine retries the item and logs it if it still fails."""
        try:
            result = await complete_structured(self.backend, self._messages(user), schema, self.sampling,
                                               session="judge", max_attempts=self.max_attempts)
        except StructuredOutputError as exc:
            return None, {"failed": True, "error": exc.message}
        return result.value, {"failed": False, "attempts": result.attempts, "repaired": result.repaired}

    def score_key(self, dialogue: Dialogue) -> str:
        return f"score|{dialogue.id}|{self.rubric_hash('score')}"

    def pair_key(self, x: Dialogue, y: Dialogue) -> str:
        return f"pair|{x.id}|{y.id}|{self.rubric_hash('pair')}"

    async def score_one(self, dialogue: Dialogue) -> dict[str, Any]:
        rubric = self.rubric_hash("score")
        key = self.score_key(dialogue)
        tr = transcript(dialogue, self.cfg.max_transcript_words, self.cfg.max_turn_words)
        user = render("judge/score.j2", transcript=tr.text, truncated=tr.truncated, profile=profile_text(dialogue))
        value, status = await self._ask(user, DialogueScores)
        record: dict[str, Any] = {"key": key, "kind": "score", "dialogue_id": dialogue.id, "rubric": rubric,
                                  "model": self.backend.model_id, "truncated": tr.truncated, **status}
        if isinstance(value, DialogueScores):
            record["scores"] = {d: getattr(value, d).score for d in DIMENSIONS}
            record["reasons"] = {d: getattr(value, d).reason for d in DIMENSIONS}
        return record

    async def _verdict(self, a: Dialogue, b: Dialogue) -> tuple[PairVerdict | None, dict[str, Any]]:
        ta = transcript(a, self.cfg.max_transcript_words, self.cfg.max_turn_words)
        tb = transcript(b, self.cfg.max_transcript_words, self.cfg.max_turn_words)
        user = render("judge/pairwise.j2", transcript_a=ta.text, truncated_a=ta.truncated, transcript_b=tb.text,
                      truncated_b=tb.truncated)
        value, status = await self._ask(user, PairVerdict)
        return value if isinstance(value, PairVerdict) else None, status

    async def compare_one(self, x: Dialogue, y: Dialogue) -> dict[str, Any]:
        """Judge x against y in both orders; outcomes are from x's side: win, tie or loss."""
        rubric = self.rubric_hash("pair")
        key = self.pair_key(x, y)
        first, s1 = await self._verdict(x, y)   # x is A
        second, s2 = await self._verdict(y, x)  # x is B
        record: dict[str, Any] = {"key": key, "kind": "pair", "x": x.id, "y": y.id, "topic": topic_of(x),
                                  "rubric": rubric, "model": self.backend.model_id,
                                  "failed": s1["failed"] or s2["failed"],
                                  "error": s1.get("error") or s2.get("error")}
        if first and second:
            record["orders"] = [first.model_dump(), second.model_dump()]
            record["outcomes"] = {d: combine(getattr(first, d), getattr(second, d)) for d in PAIR_DIMENSIONS}
            record["consistent"] = {d: _consistent(getattr(first, d), getattr(second, d)) for d in PAIR_DIMENSIONS}
        return record

    @property
    def failures_path(self) -> Path:
        return self.results_path.with_name(f"{self.results_path.stem}.failures.jsonl")

    async def _run(self, items: list[Item[tuple[Dialogue, ...]]], label: str, progress: bool
                   ) -> list[dict[str, Any]]:
        """Judge every item not yet in the results file; the records of all items, in order (an item whose backend
        failed for good has none: it is in the failures file and the next run retries it)."""
        task = JudgeTask(self, label)
        unique = list({item.id: item for item in items}.values())  # a dialogue listed twice is judged once
        self.last_run = await run_task(
            task, unique, {"judgements": self.results_path}, failures=self.failures_path,
            options=RunOptions(concurrency=self.cfg.concurrency, retries=1, stop_after_failures=5,
                               progress=progress))
        wanted = {item.id for item in items}
        found = {r["key"]: r for _, r in iter_jsonl(self.results_path) if r.get("key") in wanted}
        return [found[item.id] for item in items if item.id in found]

    async def score(self, dialogues: Sequence[Dialogue], progress: bool = True) -> list[dict[str, Any]]:
        return await self._run([Item(self.score_key(d), (d,)) for d in dialogues], "judging", progress)

    async def compare(self, pairs: Sequence[tuple[Dialogue, Dialogue]], progress: bool = True
                      ) -> list[dict[str, Any]]:
        return await self._run([Item(self.pair_key(x, y), (x, y)) for x, y in pairs], "comparing", progress)


class JudgeTask(Task[tuple[Dialogue, ...], dict[str, Any]]):
    """One item = one dialogue to score, or one pair to compare in both orders."""

    sinks = {"judgements": "key"}
    unit = "verdict"

    def __init__(self, judge: Judge, label: str) -> None:
        self.judge, self.label = judge, label  # type: ignore[misc]

    async def run(self, item: Item[tuple[Dialogue, ...]]) -> dict[str, Any]:
        if len(item.payload) == 1:
            return await self.judge.score_one(item.payload[0])
        return await self.judge.compare_one(*item.payload)

    def accept(self, item: Item[tuple[Dialogue, ...]], result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        return [("judgements", result)]


def combine(first: str, second: str) -> Literal["win", "tie", "loss"]:
    """x was A in the first verdict and B in the second: it wins only if it wins both."""
    x_first, x_second = first == "A", second == "B"
    y_first, y_second = first == "B", second == "A"
    if x_first and x_second:
        return "win"
    if y_first and y_second:
        return "loss"
    return "tie"


def _consistent(first: str, second: str) -> bool:
    """Whether both orders named the same dialogue (or both said tie)."""
    return {"A": "B", "B": "A", "tie": "tie"}[first] == second


def sample(dialogues: Sequence[Dialogue], n: int | None, seed: int = 0) -> list[Dialogue]:
    """``n`` dialogues drawn at random (fixed seed), in corpus order; all of them when n is None or larger."""
    if n is None or n >= len(dialogues):
        return list(dialogues)
    keep = set(random.Random(seed).sample(range(len(dialogues)), n))
    return [d for i, d in enumerate(dialogues) if i in keep]


def score_summary(records: Iterable[dict[str, Any]], resamples: int = 1000) -> dict[str, Any]:
    """Per-dimension mean scores with bootstrap intervals, plus the overall mean and failure count."""
    records = list(records)
    ok = [r for r in records if not r["failed"]]
    dims = {d: bootstrap_mean([r["scores"][d] for r in ok], resamples) for d in DIMENSIONS}
    overall = bootstrap_mean([float(np.mean(list(r["scores"].values()))) for r in ok], resamples)
    return {"dimensions": dims, "overall": overall, "judged": len(ok), "failed": len(records) - len(ok),
            "truncated": sum(bool(r.get("truncated")) for r in records)}


def pair_summary(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Win/tie/loss shares (x's side) with Wilson intervals per dimension, and how often both orders agreed."""
    records = list(records)
    ok = [r for r in records if not r["failed"]]
    dims = {}
    for d in PAIR_DIMENSIONS:
        outcomes = [r["outcomes"][d] for r in ok]
        dims[d] = {o: wilson(outcomes.count(o), len(outcomes)) for o in ("win", "tie", "loss")}
        dims[d]["consistent"] = wilson(sum(r["consistent"][d] for r in ok), len(ok))
    return {"dimensions": dims, "pairs": len(ok), "failed": len(records) - len(ok)}


def score_rows(summaries: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Mean judge score [95% bootstrap interval] per dimension, one column per corpus."""
    names = list(summaries)
    rows = [["judge score (1-5)", *names]]
    for d in DIMENSIONS:
        rows.append([d, *[str(summaries[n]["dimensions"][d]) for n in names]])
    rows.append(["overall (mean of dimensions)", *[str(summaries[n]["overall"]) for n in names]])
    rows.append(["dialogues judged / failed", *[f"{summaries[n]['judged']} / {summaries[n]['failed']}"
                                                for n in names]])
    rows.append(["transcripts shortened", *[str(summaries[n]["truncated"]) for n in names]])
    return rows


def pair_rows(summary: dict[str, Any], x: str, y: str) -> list[list[str]]:
    rows = [[f"{x} vs {y}", "win", "tie", "loss", "same verdict both orders"]]
    for d in PAIR_DIMENSIONS:
        s = summary["dimensions"][d]
        rows.append([d, *[str(s[k]) for k in ("win", "tie", "loss", "consistent")]])
    return rows


async def judge_corpora(judge: Judge, corpora: dict[str, Sequence[Dialogue]], n: int | None, progress: bool = True
                        ) -> dict[str, dict[str, Any]]:
    """Score a random sample of ``n`` dialogues (all when None) of each corpus; summaries by corpus name."""
    summaries = {}
    for name, dialogues in corpora.items():
        records = await judge.score(sample(dialogues, n), progress)
        summaries[name] = score_summary(records, judge.cfg.bootstrap)
    return summaries
