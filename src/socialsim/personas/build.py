"""Build a persona bank: read a source, extract one profile per record, check it, append it durably.

Resumable: records whose id is already in the bank or in its rejections file are not processed again, so a
re-run after Ctrl-C only does what is missing (and the request cache means nothing finished is paid twice). The
records are items of one task on the engine (:mod:`socialsim.engine`).
"""

from collections import Counter
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from socialsim import embeddings
from socialsim.corpus.atomic import check_output
from socialsim.corpus.profile import Profile
from socialsim.engine import Item, RunOptions, Task, run_task
from socialsim.errors import InputFileError
from socialsim.llm.roles import BackendProvider
from socialsim.personas.bank import iter_existing
from socialsim.personas.config import PersonaConfig
from socialsim.personas.dedup import NearDuplicateIndex, profile_text
from socialsim.personas.extract import Extraction, Rejection, extract_profile
from socialsim.personas.sources import SourceRecord, open_source


def rejections_path(bank_path: Path) -> Path:
    """Where the records that gave no profile are listed with their reason: ``NAME.rejections.jsonl``."""
    return bank_path.with_name(f"{bank_path.stem}.rejections.jsonl")


def failures_path(bank_path: Path) -> Path:
    """Where records whose backend failed (to be retried by the next run) are logged: ``NAME.failures.jsonl``."""
    return bank_path.with_name(f"{bank_path.stem}.failures.jsonl")


@dataclass
class BuildReport:
    source: str
    out_path: Path
    records: int = 0  # records of the source considered (after --limit)
    already_done: int = 0  # in the bank or its rejections from an earlier run
    processed: int = 0  # extracted in this run
    written: int = 0
    flagged: int = 0
    at_risk: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    skipped_bad: list[str] = field(default_factory=list)
    failed: int = 0  # records whose backend failed for good in this run (see NAME.failures.jsonl)
    first_failure: str | None = None
    elapsed_s: float = 0.0
    checked: bool = True  # grounding and near-duplicates checked (False without the [embed] extra)

    @property
    def records_per_minute(self) -> float:
        return 60.0 * self.processed / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def profiles_per_minute(self) -> float:
        return 60.0 * self.written / self.elapsed_s if self.elapsed_s else 0.0

    def summary(self) -> str:
        rejected = ", ".join(f"{reason} {n}" for reason, n in sorted(self.rejected.items())) or "none"
        lines = [
            f"source {self.source}: {self.records} records, {self.already_done} already done, "
            f"{self.processed} processed in {self.elapsed_s:.0f}s ({self.records_per_minute:.2f} records/min, "
            f"{self.profiles_per_minute:.2f} profiles/min)",
            f"profiles written {self.written} (flagged {self.flagged}, at risk {self.at_risk}) -> {self.out_path}",
            f"rejected: {rejected} -> {rejections_path(self.out_path)}",
        ]
        if self.failed:
            lines.append(f"failed: {self.failed} (backend errors; first: {self.first_failure}) -> "
                         f"{failures_path(self.out_path)}; run the same command again to retry them")
        if not self.checked:
            lines.append("grounding and near-duplicate checks skipped (profiles flagged 'unchecked'): "
                         "pip install 'socialsim[embed]' to run them")
        if self.skipped_bad:
            lines.append(f"skipped bad input: {len(self.skipped_bad)} (first: {self.skipped_bad[0]})")
        return "\n".join(lines)


def record_key(source: str, record_id: str) -> str:
    return f"{source}|{record_id}"


class PersonaTask(Task[SourceRecord, Extraction | Rejection]):
    """One item = one source record: extract a profile, check it, append it to the bank or its rejections."""

    sinks = {"bank": lambda r: record_key(r["source"]["source"], r["source"]["record_id"]),
             "rejections": lambda r: record_key(r["source"], r["record_id"])}
    label, unit = "personas", "record"

    def __init__(self, backends: BackendProvider, config: PersonaConfig, report: BuildReport,
                 existing: list[Profile]) -> None:
        self.backend, self.max_attempts = backends.get("extractor"), backends.structured_attempts
        self.config, self.report = config, report
        self.index = NearDuplicateIndex(config.dedup_threshold)
        self.positions: dict[str, int] = {}
        if existing and report.checked:
            for profile, vector in zip(existing, embeddings.embed([profile_text(p) for p in existing]), strict=True):
                self.index.add(profile.id, vector)

    def done(self, written: dict[str, set[str]]) -> set[str]:
        return written["bank"] | written["rejections"]

    async def run(self, item: Item[SourceRecord]) -> Extraction | Rejection:
        return await extract_profile(item.payload, self.backend, self.config, index=self.positions[item.id],
                                     max_attempts=self.max_attempts)

    def accept(self, item: Item[SourceRecord], result: Extraction | Rejection) -> list[tuple[str, dict[str, Any]]]:
        # Runs on the event loop one item at a time: the duplicate check and the index update are atomic.
        if isinstance(result, Extraction) and result.vector is not None and (
                hit := self.index.duplicate_of(result.vector)):
            profile = result.profile
            result = Rejection(profile.source.source, profile.source.record_id, "near_duplicate",
                               f"cosine {hit[1]:.3f} with {hit[0]}")
        self.report.processed += 1
        if isinstance(result, Rejection):
            self.report.rejected[result.reason] += 1
            return [("rejections", asdict(result))]
        if result.vector is not None:
            self.index.add(result.profile.id, result.vector)
        self.report.written += 1
        self.report.flagged += bool(result.profile.flags)
        self.report.at_risk += result.profile.at_risk
        return [("bank", result.profile.model_dump(mode="json"))]

    def progress(self) -> dict[str, Any]:
        return {"kept": self.report.written, "rejected": sum(self.report.rejected.values())}


async def build_bank(source: str, out_path: Path, backends: BackendProvider, config: PersonaConfig, *,
                     limit: int | None = None, skip_bad: bool = False, progress: bool = True) -> BuildReport:
    """Extract a profile from each of the first ``limit`` records of ``source`` (see
    :func:`~socialsim.personas.sources.open_source`) into the bank at ``out_path``."""
    out_path = Path(out_path)
    src = open_source(source, config, skip_bad=skip_bad)
    inputs = [Path(src.arg)] if src.arg and Path(src.arg).exists() else []
    for output in (out_path, rejections_path(out_path), failures_path(out_path)):
        check_output(output, *inputs)  # before any work: the bank is appended to, never the source
    records: list[SourceRecord] = list(islice(src, limit))  # reads (and checks) the input before any LLM call
    report = BuildReport(src.label, out_path, records=len(records), checked=embeddings.available())
    items: list[Item[SourceRecord]] = []
    seen: set[str] = set()
    for record in records:
        key = record_key(record.source, record.record_id)
        if key in seen:
            src.bad(InputFileError(src.arg or src.kind, f"duplicate record id {record.record_id!r}",
                                   hint="record ids must be unique (personas.id_column), or use --skip-bad"))
            continue
        seen.add(key)
        items.append(Item(key, record))
    report.skipped_bad = [str(error) for error in src.skipped]
    existing = [Profile.model_validate(obj) for obj in iter_existing(out_path)]  # repairs a torn tail first
    task = PersonaTask(backends, config, report, existing)
    task.positions = {item.id: position for position, item in enumerate(items)}
    run = await run_task(task, items, {"bank": out_path, "rejections": rejections_path(out_path)},
                         failures=failures_path(out_path),
                         options=RunOptions(concurrency=config.concurrency, stop_after_failures=5,
                                            progress=progress))
    report.already_done, report.failed = run.done_before, run.failed_now
    report.elapsed_s, report.first_failure = run.seconds, run.first_failure
    return report
