"""Predict the tokens, wall time and cost of simulating N dialogues from a short calibration run.

The model is a set of bottlenecks, each a lower bound on the wall time; the prediction is the largest, and the
report names it:

- **latency**: a dialogue's calls run one after another, so at most ``min(concurrency, in_flight)`` calls are in
  flight: ``calls * latency / min(concurrency, in_flight)``. An in-process model (llama.cpp) runs one call at
  a time (concurrency 1), so this is then the sum of its measured call times.
- **output / input throughput** of the serving side (e.g. a vLLM cluster's aggregate tokens/s), when given.
- **requests/min and tokens/min** limits of the endpoint, when set.

Per-dialogue figures (calls, prompt and completion tokens, seconds per call) come from a calibration corpus: the
``meta.usage`` that ``socialsim simulate`` records with every dialogue. That includes the prompt tokens repeating
the same role's previous prompt as an exact prefix, which servers with prefix caching serve from their cache and
many APIs bill at a discounted "cached input" price (``Prices.cached_input``). Assumptions: N dialogues behave like the
calibration ones (same models, turn limits and prompts); calls answered from the request cache are excluded from
the timing; re-asked structured calls count as calls but only their final attempt's tokens are recorded.
"""

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from socialsim.corpus.dialogue import Dialogue
from socialsim.corpus.readers import read_corpus
from socialsim.errors import InputFileError

ROLES = ("seeker", "supporter")


@dataclass(frozen=True)
class Calibration:
    """Per-dialogue means measured on a calibration corpus."""

    dialogues: int
    calls: float
    prompt_tokens: float
    prompt_tokens_evaluated: float
    completion_tokens: float
    seconds_per_call: float  # mean latency of one uncached call
    turns: float
    models: tuple[str, ...] = ()
    source: str = ""
    prompt_tokens_prefix: float = 0.0  # prompt tokens repeating the role's previous prompt (cacheable prefix)

    @property
    def prefix_share(self) -> float:
        return self.prompt_tokens_prefix / self.prompt_tokens if self.prompt_tokens else 0.0


@dataclass(frozen=True)
class Throughput:
    """What the serving side allows. None = not a bottleneck (or unknown)."""

    concurrency: int = 1  # requests the client keeps in flight (1 for an in-process model)
    in_flight: int = 1  # dialogues simulated at once
    latency_s: float | None = None  # seconds per call (None = the calibration's)
    output_tokens_per_s: float | None = None  # aggregate decode throughput of the servers
    input_tokens_per_s: float | None = None  # aggregate prompt (prefill) throughput of the servers
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None


@dataclass(frozen=True)
class Prices:
    """US dollars per million tokens (hosted APIs) and per hour of wall time (a rented cluster). ``cached_input``
    (None = the input price) applies to prompt tokens that repeat the role's previous prompt as a prefix."""

    input: float = 0.0
    output: float = 0.0
    per_hour: float = 0.0
    cached_input: float | None = None


@dataclass
class Estimate:
    dialogues: int
    calls: float
    input_tokens: float
    input_tokens_evaluated: float
    output_tokens: float
    wall_seconds: float
    bottleneck: str
    bounds: dict[str, float] = field(default_factory=dict)  # bottleneck -> seconds it alone implies
    input_tokens_prefix: float = 0.0  # of input_tokens: repeating the role's previous prompt (cacheable)
    cost_usd: float | None = None
    calibration: Calibration | None = None
    throughput: Throughput | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def calibrate(dialogues: Iterable[Dialogue], source: str = "") -> Calibration:
    """Mean per-dialogue usage of simulated dialogues (those whose ``meta.usage`` was recorded)."""
    n = 0
    calls = prompt = evaluated = prefix = completion = seconds = timed_calls = turns = 0.0
    models: set[str] = set()
    for dialogue in dialogues:
        usage = dialogue.meta.get("usage")
        if not usage:
            continue
        n += 1
        turns += len(dialogue.turns)
        models.update(str(m) for m in (dialogue.meta.get("models") or {}).values())
        for role in ROLES:
            u = usage.get(role) or {}
            calls += u.get("calls", 0)
            prompt += u.get("prompt_tokens", 0)
            evaluated += u.get("prompt_tokens_evaluated", 0) or u.get("prompt_tokens", 0)
            prefix += u.get("prompt_tokens_prefix", 0)
            completion += u.get("completion_tokens", 0)
            seconds += u.get("seconds", 0)
            timed_calls += u.get("calls", 0) - u.get("cached", 0)
    if n == 0:
        raise InputFileError(f"{source or 'the calibration corpus'}: no simulated dialogue with meta.usage",
                             "calibrate on a corpus written by `socialsim simulate` (its dialogues.jsonl)")
    if timed_calls <= 0:
        raise InputFileError(f"{source}: every call came from the request cache, so nothing was timed",
                             "calibrate on a run made with --set cache.enabled=false")
    return Calibration(dialogues=n, calls=calls / n, prompt_tokens=prompt / n, prompt_tokens_evaluated=evaluated / n,
                       completion_tokens=completion / n, seconds_per_call=seconds / timed_calls, turns=turns / n,
                       models=tuple(sorted(models)), source=source, prompt_tokens_prefix=prefix / n)


def calibrate_from_corpus(path: Path) -> Calibration:
    return calibrate(read_corpus(path), str(path))


def estimate(n: int, calibration: Calibration, throughput: Throughput, prices: Prices | None = None) -> Estimate:
    """Predict a run of ``n`` dialogues (see the module docstring for the model)."""
    calls = n * calibration.calls
    input_tokens = n * calibration.prompt_tokens
    evaluated = n * calibration.prompt_tokens_evaluated
    output_tokens = n * calibration.completion_tokens
    latency = throughput.latency_s if throughput.latency_s is not None else calibration.seconds_per_call
    parallel = max(1, min(throughput.concurrency, throughput.in_flight, n))
    bounds = {"latency": calls * latency / parallel}
    if throughput.output_tokens_per_s:
        bounds["output tokens/s"] = output_tokens / throughput.output_tokens_per_s
    if throughput.input_tokens_per_s:
        bounds["input tokens/s"] = evaluated / throughput.input_tokens_per_s
    if throughput.requests_per_minute:
        bounds["requests/min"] = 60.0 * calls / throughput.requests_per_minute
    if throughput.tokens_per_minute:
        bounds["tokens/min"] = 60.0 * (input_tokens + output_tokens) / throughput.tokens_per_minute
    bottleneck = max(bounds, key=lambda k: bounds[k])
    prefix = n * calibration.prompt_tokens_prefix
    cost = None
    if prices is not None:
        cached_price = prices.input if prices.cached_input is None else prices.cached_input
        cost = ((input_tokens - prefix) * prices.input + prefix * cached_price + output_tokens * prices.output) / 1e6 \
            + bounds[bottleneck] / 3600 * prices.per_hour
    return Estimate(dialogues=n, calls=calls, input_tokens=input_tokens, input_tokens_evaluated=evaluated,
                    output_tokens=output_tokens, wall_seconds=bounds[bottleneck], bottleneck=bottleneck,
                    bounds=bounds, input_tokens_prefix=prefix, cost_usd=cost, calibration=calibration,
                    throughput=throughput)


def human_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def format_estimate(e: Estimate) -> str:
    c = e.calibration
    lines = []
    if c is not None:
        origin = (f"calibration: {c.dialogues} dialogues from {c.source or 'a run'} ({', '.join(c.models)}): "
                  f"per dialogue {c.turns:.1f} turns, " if c.dialogues else f"from {c.source}: per dialogue ")
        lines.append(f"{origin}{c.calls:.1f} calls, {c.prompt_tokens:.0f} prompt tokens "
                     f"({c.prompt_tokens_evaluated:.0f} evaluated, {c.prefix_share:.0%} repeating the role's "
                     f"previous prompt), {c.completion_tokens:.0f} completion tokens, {c.seconds_per_call:.2f} s "
                     "per call")
    lines += [
        f"dialogues:      {e.dialogues:,}",
        f"LLM calls:      {e.calls:,.0f}",
        f"input tokens:   {e.input_tokens:,.0f} (evaluated {e.input_tokens_evaluated:,.0f}; a cacheable prefix "
        f"{e.input_tokens_prefix:,.0f})",
        f"output tokens:  {e.output_tokens:,.0f}",
        f"wall time:      {human_duration(e.wall_seconds)} (bound by {e.bottleneck})",
    ]
    lines += [f"  {name:<16}{human_duration(sec)}" for name, sec in sorted(e.bounds.items(), key=lambda kv: -kv[1])]
    if e.cost_usd is not None:
        lines.append(f"cost:           ${e.cost_usd:,.2f}")
    return "\n".join(lines)
