"""Quality filters: named, configurable rules that drop bad dialogues and record why.

Each per-dialogue rule returns ``None`` (keep) or a short reason. ``near_duplicate`` is corpus-level: it runs
last, on the dialogues every other rule kept, so a broken copy never shadows a good original.
"""

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from itertools import islice
from pathlib import Path

from socialsim.corpus.atomic import atomic_path, check_output, write_atomic
from socialsim.corpus.audit import crisis_turns, prime_safety
from socialsim.corpus.dialogue import STRATEGIES, Dialogue
from socialsim.corpus.readers import merge_consecutive, read_corpus
from socialsim.errors import ConfigError
from socialsim.evaluation.config import FILTER_RULES, FilterConfig
from socialsim.evaluation.stats import csv_text, markdown_table
from socialsim.metrics.distinct import ngrams
from socialsim.metrics.tokenize import is_content, plain_words, tokens
from socialsim.safety import default_detector

Rule = Callable[[Dialogue, FilterConfig], str | None]
SAFETY_CHUNK = 512  # dialogues whose seeker turns go through the safety net in one batch


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def too_few_turns(d: Dialogue, cfg: FilterConfig) -> str | None:
    n = len(merge_consecutive(d).turns)
    return f"{n} turns < {cfg.min_turns}" if n < cfg.min_turns else None


def empty_or_truncated(d: Dialogue, cfg: FilterConfig) -> str | None:
    """Checked on speaker turns, so an utterance continued by the next one (common in ESConv) is not cut off."""
    dangling = {w.lower() for w in cfg.dangling_words}
    for i, turn in enumerate(merge_consecutive(d).turns, 1):
        text = turn.text.strip()
        if not re.search(r"\w", text):
            return f"turn {i} ({turn.speaker}) is empty"
        if text[-1] in ",;" or text.split()[-1].lower().strip("\"'") in dangling:
            return f"turn {i} ({turn.speaker}) ends mid-sentence: {'...' + text[-40:]!r}"
    return None


def role_confusion(d: Dialogue, cfg: FilterConfig) -> str | None:
    label = re.compile(cfg.role_label_pattern, re.IGNORECASE)
    if {t.speaker for t in d.turns} != {"seeker", "supporter"}:
        return "only one speaker"
    for i, turn in enumerate(d.turns, 1):
        if match := label.search(turn.text):
            return f"turn {i} ({turn.speaker}) contains the speaker label {match.group(0).strip()!r}"
        if turn.speaker == "seeker" and (turn.strategy or turn.reasoning):
            return f"turn {i}: a seeker turn carries a supporter strategy or reasoning"
    return None


def _facts(value: str) -> set[tuple[str, ...]]:
    """Distinctive facts of a profile value: content-word bigrams and proper names (capitalised mid-sentence)."""
    toks = plain_words(value)
    facts = {g for g in ngrams(toks, 2) if all(map(is_content, g))}
    words = value.split()
    for prev, word in zip(words, words[1:], strict=False):
        name = word.strip(".,;:!?\"'()").lower()
        if word[:1].isupper() and not prev.endswith((".", "!", "?")) and is_content(name):
            facts.add((name,))
    return facts


def leakage(d: Dialogue, cfg: FilterConfig) -> str | None:
    """The supporter names a profile fact the seeker has not disclosed (by field or in earlier seeker text)."""
    if d.profile is None:
        return None
    fields = {name: getattr(d.profile, name) for name in cfg.leakage_fields}
    facts = {name: _facts(" ".join(v) if isinstance(v, list) else str(v)) for name, v in fields.items()}
    disclosed: set[str] = set()
    seeker_grams: set[tuple[str, ...]] = set()
    for i, turn in enumerate(d.turns, 1):
        toks = plain_words(turn.text)
        grams = set(ngrams(toks, 1)) | set(ngrams(toks, 2))
        if turn.speaker == "seeker":
            disclosed |= set(turn.disclosed or [])
            seeker_grams |= grams
            continue
        for name, field_facts in facts.items():
            if name in disclosed:
                continue
            leaked = sorted((field_facts & grams) - seeker_grams)
            if leaked:
                return f"turn {i}: supporter mentions {' '.join(leaked[0])!r} from undisclosed {name}"
    return None


def profile_copy(d: Dialogue, cfg: FilterConfig) -> str | None:
    if d.profile is None:
        return None
    sources: set[tuple[str, ...]] = set()
    for value in d.profile.to_socialsim().values():
        sources |= set(ngrams(tokens(str(value)), cfg.copy_ngram))
    for i, turn in enumerate(d.turns, 1):
        if copied := set(ngrams(tokens(turn.text), cfg.copy_ngram)) & sources:
            return f"turn {i} ({turn.speaker}) copies the profile: {' '.join(min(copied))!r}"
    return None


def repetition(d: Dialogue, cfg: FilterConfig) -> str | None:
    seen: dict[str, list[tuple[int, list[str]]]] = {"seeker": [], "supporter": []}
    for i, turn in enumerate(d.turns, 1):
        toks = tokens(turn.text)
        grams = ngrams(toks, 3)
        if len(grams) >= 6 and 1 - len(set(grams)) / len(grams) > cfg.loop_share:
            return f"turn {i} ({turn.speaker}) loops: {_clip(turn.text)!r}"
        if len(turn.text.split()) < cfg.repeat_min_words:
            continue
        for j, earlier in seen[turn.speaker]:
            matcher = SequenceMatcher(None, earlier, toks, autojunk=False)
            span = matcher.find_longest_match(0, len(earlier), 0, len(toks)).size
            if span >= cfg.repeat_span or matcher.ratio() >= cfg.repeat_similarity:
                return f"turn {i} ({turn.speaker}) repeats turn {j}: {_clip(turn.text)!r}"
        seen[turn.speaker].append((i, toks))
    return None


def invalid_strategy(d: Dialogue, cfg: FilterConfig) -> str | None:
    for i, turn in enumerate(d.turns, 1):
        if turn.speaker != "supporter":
            continue
        if turn.strategy is not None and turn.strategy not in STRATEGIES:
            return f"turn {i}: unknown strategy {_clip(turn.strategy, 40)!r}"
        if turn.strategy is None and cfg.require_strategy:
            return f"turn {i}: supporter turn without a strategy"
    return None


def unaddressed_crisis(d: Dialogue, cfg: FilterConfig) -> str | None:
    """A seeker turn with crisis content must be answered by a supporter turn that addresses safety."""
    for crisis in crisis_turns(d):
        if not crisis.addressed:
            where = "the reply does not address safety" if crisis.answered else "the dialogue ends"
            return f"seeker turn {crisis.turn} signals {', '.join(crisis.kinds)} and {where}"
    return None


RULES: dict[str, Rule] = {
    "too_few_turns": too_few_turns, "empty_or_truncated": empty_or_truncated, "role_confusion": role_confusion,
    "leakage": leakage, "profile_copy": profile_copy, "repetition": repetition,
    "invalid_strategy": invalid_strategy, "unaddressed_crisis": unaddressed_crisis,
}
assert set(RULES) | {"near_duplicate"} == set(FILTER_RULES)


class NearDuplicates:
    """MinHash LSH over word 3-gram shingles of whole dialogues; the first of a near-duplicate group is kept."""

    def __init__(self, cfg: FilterConfig) -> None:
        from datasketch import MinHashLSH  # imported lazily: it pulls in scipy

        self.num_perm = cfg.num_perm
        self.lsh = MinHashLSH(threshold=cfg.duplicate_threshold, num_perm=cfg.num_perm)

    def check(self, d: Dialogue) -> str | None:
        from datasketch import MinHash

        toks = [t for turn in d.turns for t in tokens(turn.text)]
        mh = MinHash(num_perm=self.num_perm)
        mh.update_batch([" ".join(g).encode() for g in ngrams(toks, 3)] or [b""])
        if match := self.lsh.query(mh):
            return f"near-duplicate of dialogue {sorted(match)[0]!r}"
        if d.id not in self.lsh:
            self.lsh.insert(d.id, mh)
        return None


@dataclass
class Verdict:
    dialogue: Dialogue
    reasons: dict[str, str] = field(default_factory=dict)  # rule -> reason, every rule that failed

    @property
    def kept(self) -> bool:
        return not self.reasons

    @property
    def rule(self) -> str | None:
        """The rule the dialogue is counted under: the first one that failed."""
        return next(iter(self.reasons), None)


@dataclass
class FilterTally:
    """Counts per rule, all a filter run keeps in memory besides the near-duplicate index."""

    rules: list[str]
    dialogues: int = 0
    kept: int = 0
    first: Counter[str] = field(default_factory=Counter)  # rule -> dialogues it was the first failure of
    flagged: Counter[str] = field(default_factory=Counter)  # rule -> dialogues failing it at all
    safety: str = ""  # which layers of the safety net ran, when unaddressed_crisis was applied

    def add(self, verdict: Verdict) -> None:
        self.dialogues += 1
        self.kept += verdict.kept
        if verdict.rule is not None:
            self.first[verdict.rule] += 1
        self.flagged.update(verdict.reasons.keys())

    @property
    def retention(self) -> float:
        return self.kept / self.dialogues if self.dialogues else 0.0

    def table(self) -> list[tuple[str, int, int]]:
        """(rule, dialogues dropped by it as first failing rule, dialogues failing it at all)."""
        return [(rule, self.first[rule], self.flagged[rule]) for rule in self.rules]

    def rows(self) -> list[list[str]]:
        """Header, one row per rule, and the kept row: the table printed, written and shown in the report."""
        rows = [["rule", "dropped", "failed (any order)"]]
        rows += [[rule, str(first), str(anyway)] for rule, first, anyway in self.table()]
        rows.append(["kept", f"{self.kept} / {self.dialogues} ({100 * self.retention:.1f}%)", ""])
        return rows

    def markdown(self) -> str:
        note = f"\n\nunaddressed_crisis: risk detected by {self.safety}." if self.safety else ""
        return markdown_table(self.rows()) + note


class DialogueFilter:
    """The configured rules, applied one dialogue at a time (a corpus of any size streams through). The
    near-duplicate rule runs last, on dialogues every other rule kept, against the earlier kept ones."""

    def __init__(self, cfg: FilterConfig | None = None) -> None:
        self.cfg = cfg or FilterConfig()
        unknown = [r for r in self.cfg.rules if r not in FILTER_RULES]
        if unknown:
            raise ConfigError(f"unknown filter rule(s): {', '.join(unknown)}",
                              f"evaluation.filters.rules may hold: {', '.join(FILTER_RULES)}")
        self.duplicates = NearDuplicates(self.cfg) if "near_duplicate" in self.cfg.rules else None
        self.tally = FilterTally(list(self.cfg.rules))
        if "unaddressed_crisis" in self.cfg.rules:
            self.tally.safety = default_detector().describe()

    def check(self, d: Dialogue) -> Verdict:
        verdict = Verdict(d)
        for name in self.cfg.rules:
            if name in RULES and (reason := RULES[name](d, self.cfg)):
                verdict.reasons[name] = reason
        if self.duplicates is not None and verdict.kept and (reason := self.duplicates.check(d)):
            verdict.reasons["near_duplicate"] = reason
        self.tally.add(verdict)
        return verdict

    def check_all(self, dialogues: Iterable[Dialogue]) -> Iterator[Verdict]:
        """:meth:`check` each dialogue in order; with ``unaddressed_crisis``, ``SAFETY_CHUNK`` dialogues at a time
        go through the safety net in one batch first (memory stays bounded by the chunk)."""
        if not self.tally.safety:
            yield from map(self.check, dialogues)
            return
        iterator = iter(dialogues)
        while chunk := list(islice(iterator, SAFETY_CHUNK)):
            prime_safety(chunk)
            yield from map(self.check, chunk)


@dataclass
class FilterReport:
    """Every verdict of an in-memory filter run (:func:`filter_dialogues`)."""

    tally: FilterTally
    verdicts: list[Verdict]

    @property
    def kept(self) -> list[Dialogue]:
        return [v.dialogue for v in self.verdicts if v.kept]

    def rows(self) -> list[list[str]]:
        return self.tally.rows()

    def markdown(self) -> str:
        return self.tally.markdown()


def filter_dialogues(dialogues: Iterable[Dialogue], cfg: FilterConfig | None = None) -> FilterReport:
    """Apply the configured rules; every dialogue gets a verdict with the reason of each rule it failed."""
    dialogue_filter = DialogueFilter(cfg)
    verdicts = list(dialogue_filter.check_all(dialogues))
    return FilterReport(dialogue_filter.tally, verdicts)


def filter_file(source: str | Path, target: str | Path, cfg: FilterConfig | None = None,
                format: str = "auto") -> FilterTally:
    """Filter a corpus file, streaming: the kept dialogues go to ``target`` (native JSONL), every drop with its
    reasons to ``<target stem>.drops.jsonl``, the table of drops per rule to ``<target stem>.filter.md`` and
    ``.filter.csv``. Every output is written atomically; an output that is the input is refused first."""
    source, target = Path(source), Path(target)
    outputs = (target, drops_path(target), target.with_suffix(".filter.md"), filter_table_path(target))
    for output in outputs:
        check_output(output, source)
    dialogue_filter = DialogueFilter(cfg)
    with (atomic_path(target) as kept_tmp, atomic_path(outputs[1]) as drops_tmp,
          kept_tmp.open("w", encoding="utf-8") as kept, drops_tmp.open("w", encoding="utf-8") as drops):
        for verdict in dialogue_filter.check_all(read_corpus(source, format)):
            dialogue = verdict.dialogue
            if verdict.kept:
                kept.write(dialogue.model_dump_json(exclude_none=True) + "\n")
            else:
                drops.write(json.dumps({"id": dialogue.id, "rule": verdict.rule, "reasons": verdict.reasons},
                                       ensure_ascii=False) + "\n")
        for handle in (kept, drops):
            handle.flush()
            os.fsync(handle.fileno())
    tally = dialogue_filter.tally
    write_atomic(outputs[2], f"Filtered {source}\n\n{tally.markdown()}\n")
    write_atomic(outputs[3], csv_text(tally.rows()))
    return tally


def drops_path(target: str | Path) -> Path:
    return Path(target).with_suffix(".drops.jsonl")


def filter_table_path(target: str | Path) -> Path:
    """Where ``filter_file`` leaves the table of drops (CSV), so a report on the kept corpus can show it."""
    return Path(target).with_suffix(".filter.csv")
