"""Build a persona bank: read a source, extract one profile per record, check it, append it durably.

Resumable: records whose id is already in the bank or in its rejections file are not processed again, so a
re-run after Ctrl-C only does what is missing (and the request cache means nothing finished is paid twice).
"""

import asyncio
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from tqdm import tqdm

from socialsim import embeddings
from socialsim.corpus.writer import AppendWriter
from socialsim.errors import InputFileError
from socialsim.llm.roles import RoleBackends
from socialsim.personas.bank import iter_existing
from socialsim.personas.config import PersonaConfig
from socialsim.personas.dedup import NearDuplicateIndex, profile_text
from socialsim.personas.extract import Extraction, Rejection, extract_profile
from socialsim.personas.profile import Profile
from socialsim.personas.sources import SourceRecord, open_source


def rejections_path(bank_path: Path) -> Path:
    """Where the records that gave no profile are listed with their reason: ``NAME.rejections.jsonl``."""
    return bank_path.with_name(f"{bank_path.stem}.rejections.jsonl")


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
        if not self.checked:
            lines.append("grounding and near-duplicate checks skipped (profiles flagged 'unchecked'): "
                         "pip install 'socialsim[embed]' to run them")
        if self.skipped_bad:
            lines.append(f"skipped bad input: {len(self.skipped_bad)} (first: {self.skipped_bad[0]})")
        return "\n".join(lines)


def _done_keys(out_path: Path) -> tuple[set[tuple[str, str]], list[Profile]]:
    """(source, record id) of every record already handled, and the profiles already in the bank."""
    profiles = [Profile.model_validate(obj) for obj in iter_existing(out_path)]
    done = {(p.source.source, p.source.record_id) for p in profiles}
    done |= {(obj["source"], obj["record_id"]) for obj in iter_existing(rejections_path(out_path))}
    return done, profiles


async def build_bank(source: str, out_path: Path, backends: RoleBackends, config: PersonaConfig, *,
                     limit: int | None = None, skip_bad: bool = False, progress: bool = True) -> BuildReport:
    """Extract a profile from each of the first ``limit`` records of ``source`` (see
    :func:`~socialsim.personas.sources.open_source`) into the bank at ``out_path``."""
    out_path = Path(out_path)
    src = open_source(source, config, skip_bad=skip_bad)
    records: list[SourceRecord] = list(islice(src, limit))  # reads (and checks) the input before any LLM call
    report = BuildReport(src.label, out_path, records=len(records))
    done, existing = _done_keys(out_path)
    index = NearDuplicateIndex(config.dedup_threshold)
    report.checked = embeddings.available()
    if existing and report.checked:
        for profile, vector in zip(existing, embeddings.embed([profile_text(p) for p in existing]), strict=True):
            index.add(profile.id, vector)
    todo: list[tuple[int, SourceRecord]] = []
    seen: set[tuple[str, str]] = set()
    for position, record in enumerate(records):
        key = (record.source, record.record_id)
        if key in seen:
            src.bad(InputFileError(src.arg or src.kind, f"duplicate record id {record.record_id!r}",
                                   hint="record ids must be unique (personas.id_column), or use --skip-bad"))
            continue
        seen.add(key)
        if key in done:
            report.already_done += 1
        else:
            todo.append((position, record))
    report.skipped_bad = [str(error) for error in src.skipped]

    backend = backends.get("extractor")
    max_attempts = backends.config.structured.max_attempts
    bar = tqdm(total=len(todo), unit="record", desc="personas", disable=not progress, dynamic_ncols=True)
    start = time.perf_counter()

    def record_result(result: Extraction | Rejection, bank: AppendWriter, rejections: AppendWriter) -> None:
        # No await in here: the duplicate check and the index update are atomic for concurrent extractions.
        if isinstance(result, Extraction) and result.vector is not None and (
                hit := index.duplicate_of(result.vector)):
            profile = result.profile
            result = Rejection(profile.source.source, profile.source.record_id, "near_duplicate",
                               f"cosine {hit[1]:.3f} with {hit[0]}")
        if isinstance(result, Rejection):
            rejections.append(asdict(result))
            report.rejected[result.reason] += 1
        else:
            if result.vector is not None:
                index.add(result.profile.id, result.vector)
            bank.append(result.profile.model_dump(mode="json"))
            report.written += 1
            report.flagged += bool(result.profile.flags)
            report.at_risk += result.profile.at_risk
        report.processed += 1
        bar.update(1)
        bar.set_postfix(kept=report.written, rejected=sum(report.rejected.values()))

    async def handle(position: int, record: SourceRecord, bank: AppendWriter, rejections: AppendWriter) -> None:
        result = await extract_profile(record, backend, config, index=position, max_attempts=max_attempts)
        record_result(result, bank, rejections)

    pending: set[asyncio.Task[Any]] = set()
    try:
        with (AppendWriter(out_path, unique=False) as bank,
              AppendWriter(rejections_path(out_path), unique=False) as rejections):
            for position, record in todo:
                if len(pending) >= config.concurrency:
                    finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    for task in finished:
                        task.result()
                pending.add(asyncio.create_task(handle(position, record, bank, rejections)))
            for task in asyncio.as_completed(pending):
                await task
    finally:
        for task in pending:
            task.cancel()
        bar.close()
        report.elapsed_s = time.perf_counter() - start
    return report
