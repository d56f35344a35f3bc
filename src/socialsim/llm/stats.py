"""Counters of one run's LLM traffic, reported at the end of every command that calls a model."""

import threading
from dataclasses import dataclass, field, fields


@dataclass
class RunStats:
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int = 0
    prompt_tokens_prefix: int = 0
    completion_tokens: int = 0
    generation_seconds: float = 0.0
    retries: int = 0
    rate_limited: int = 0
    parse_failures: int = 0
    repairs: int = 0
    reasks: int = 0
    structured_failures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: float) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def counters(self) -> dict[str, float]:
        """The counters alone (what another process's stats add to these)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "_lock"}

    def as_dict(self) -> dict[str, float]:
        data = self.counters()
        data["completion_tokens_per_s"] = (
            round(self.completion_tokens / self.generation_seconds, 1) if self.generation_seconds else 0.0
        )
        return data

    def summary(self) -> str:
        d = self.as_dict()
        return (
            f"LLM calls {d['calls']} (cache hits {d['cache_hits']}), tokens in {d['prompt_tokens']} "
            f"(evaluated {d['prompt_tokens_evaluated']}) out {d['completion_tokens']} "
            f"({d['completion_tokens_per_s']} tok/s), retries {d['retries']}, 429s {d['rate_limited']}, "
            f"JSON repairs {d['repairs']}, re-asks {d['reasks']}, parse failures {d['parse_failures']}, "
            f"structured failures {d['structured_failures']}"
        )
