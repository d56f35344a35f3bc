"""One dialogue between a seeker and a supporter: alternation, checks on every turn, termination with a reason.

Every generated turn must read as its speaker's (role check), must not repeat an earlier turn, and a supporter
turn answering a crisis turn must address safety. A failing turn is regenerated with another seed, at most
``max_regenerations`` times, and every rejected candidate is counted in ``meta["rejected"]``. When the budget
runs out: an unsafe reply is replaced by :func:`socialsim.safety.crisis_reply`, recorded with the safety net's own
reasoning (counted), a repeat ends the dialogue as ``repetition``, a wrong-role turn as ``role_confusion``. With
``no_repeat_ngram``, a candidate sharing a run of n words with an earlier turn is regenerated too; when every
candidate does, the one sharing the fewest such runs is kept (a soft check: it never ends the dialogue). A
model that never returns valid JSON ends it as ``backend_failure``; other backend errors propagate so the runner
can retry the whole dialogue.

Crisis turns come from the safety net's detector (lexicon, learned layer, optional LLM) on each seeker turn, and
from the profile: when the profile carries a risk (found in its source text), the seeker turn that reveals a field
holding it counts as a crisis turn even if its wording slips past the detector. From the first crisis turn on, the
supporter is reminded of the risk on every later turn; ``meta["safety"]`` records which turns were crisis turns.

The supporter's seat takes any :class:`SupporterSeat`: the reasoning supporter agent of the simulator, or a
chatbot under evaluation (interactive evaluation talks to it with the very same seeker and checks).
"""

import hashlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from socialsim.corpus.dialogue import Dialogue, Speaker, Turn
from socialsim.corpus.profile import DISCLOSABLE_FIELDS, Profile
from socialsim.llm.base import Backend
from socialsim.llm.structured import Structured, StructuredOutputError
from socialsim.safety import RiskDetector, crisis_reasoning, crisis_reply, default_detector
from socialsim.simulation.checks import repeated_ngrams, repeats, wrong_role
from socialsim.simulation.config import SimulationConfig
from socialsim.simulation.exemplars import exemplar_index
from socialsim.simulation.policy import ClassifierPolicy, Policy, StagePolicy
from socialsim.simulation.schemas import SupporterPlain, SupporterReasoned
from socialsim.simulation.seeker import SeekerAgent
from socialsim.simulation.supporter import SupporterAgent, SupporterReply, reasoning_of

T = TypeVar("T", bound=BaseModel)
USAGE_KEYS = ("calls", "cached", "prompt_tokens", "prompt_tokens_evaluated", "prompt_tokens_prefix",
              "completion_tokens", "seconds")


class SupporterSeat(Protocol):
    """Whoever answers the seeker: hears each seeker turn, proposes a reply, keeps the accepted one."""

    model_id: str

    def hear(self, seeker_text: str | None, crisis: bool, risk_earlier: bool = False) -> None: ...

    async def propose(self, seed: int) -> Structured[Any]:
        """A reply whose value has ``response`` and ``strategy`` (None when the seat names none)."""

    def accept(self, reply: Any, raw_text: str) -> None: ...


def risk_fields(profile: Profile, detector: RiskDetector) -> set[str]:
    """The disclosable fields that carry the profile's risk: those the detector flags, else (the risk was only in
    the source text) the situation and the event description."""
    if not profile.risk:
        return set()
    results = detector.score([profile.text_of(f) for f in DISCLOSABLE_FIELDS])
    flagged = {f for f, r in zip(DISCLOSABLE_FIELDS, results, strict=True) if r.flagged}
    return flagged or {"situation", "event_description"}


def safety_net_reply(value: Any, kinds: list[str]) -> SupporterReply:
    """The safe reply replacing ``value``, with the safety net's own reasoning (not the rejected candidate's)."""
    response = crisis_reply()  # longer than a model's reply may be: built without the schema's length caps
    if isinstance(value, SupporterReasoned):
        return SupporterReasoned.model_construct(**crisis_reasoning(kinds), strategy="Providing Suggestions",
                                                 response=response)
    return SupporterPlain.model_construct(strategy="Providing Suggestions", response=response)


def dialogue_seed(base: int, dialogue_id: str) -> int:
    return base + int(hashlib.sha256(dialogue_id.encode()).hexdigest()[:7], 16)


class _Run:
    """Book-keeping of one dialogue: turns, rejected candidates, token usage per role and per turn."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.turns: list[Turn] = []
        self.rejected: Counter[str] = Counter()
        self.usage: dict[str, dict[str, float]] = {r: dict.fromkeys(USAGE_KEYS, 0) for r in ("seeker", "supporter")}
        self.turn_usage: list[dict[str, float]] = []

    def record(self, speaker: Speaker, result: Structured[Any], turn: dict[str, float]) -> None:
        c = result.completion
        counts = {"calls": result.attempts, "cached": int(c.cached), "prompt_tokens": c.usage.prompt_tokens,
                  "prompt_tokens_evaluated": c.usage.prompt_tokens_evaluated or 0,
                  "prompt_tokens_prefix": c.usage.prompt_tokens_prefix or 0,
                  "completion_tokens": c.usage.completion_tokens, "seconds": c.latency_s}
        for key, value in counts.items():
            self.usage[speaker][key] += value
            turn[key] = turn.get(key, 0) + value

    async def best(self, speaker: Speaker, propose: Callable[[int], Awaitable[Structured[T]]],
                   text_of: Callable[[T], str], seed: int,
                   extra: Callable[[T], str | None] = lambda _: None) -> tuple[Structured[T], str | None]:
        """The first candidate passing every check, or the last one with the check it failed."""
        earlier = [t.text for t in self.turns]
        n = getattr(self.config.no_repeat_ngram, speaker)
        turn: dict[str, float] = {}
        problem: str | None = None
        soft: list[tuple[int, int, Structured[T]]] = []  # (repeated n-grams, attempt, candidate) failing only that
        for attempt in range(self.config.max_regenerations + 1):
            result = await propose(seed + attempt)
            self.record(speaker, result, turn)
            text = text_of(result.value)
            shared = 0
            if wrong_role(speaker, text):
                problem = "role"
            elif repeats(text, earlier, self.config.near_duplicate):
                problem = "repeat"
            else:
                problem = extra(result.value)
                if problem is None and n and (shared := repeated_ngrams(text, earlier, n)):
                    problem = "ngram"
                    soft.append((shared, attempt, result))
            if problem is None:
                break
            self.rejected[f"{speaker}_{problem}"] += 1
        if problem is not None and soft:
            _, _, result = min(soft, key=lambda c: c[:2])
            problem = None
        self.turn_usage.append({k: round(v, 3) for k, v in turn.items()})
        return result, problem


TurnHook = Callable[[Turn, dict[str, int]], None]


async def simulate_dialogue(profile: Profile, dialogue_id: str, seeker_backend: Backend,
                            supporter: Backend | SupporterSeat, config: SimulationConfig, *,
                            max_attempts: int = 3, detector: RiskDetector | None = None,
                            on_turn: TurnHook | None = None) -> Dialogue:
    """Simulate one dialogue for ``profile``; ``supporter`` is the supporter agent's backend or another seat (a
    chatbot); ``detector`` is the safety net (default: the process's). ``on_turn(turn, rejected)`` is called with
    each accepted turn and the candidates rejected before it (``socialsim preview`` streams the dialogue with it).
    Raises :class:`BackendError` only when a backend itself failed."""
    start = time.perf_counter()
    detector = detector or default_detector()
    carriers = risk_fields(profile, detector)
    crisis: list[str] = []  # kinds of the last seeker turn, when it is a crisis turn
    risk_turns: list[dict[str, Any]] = []
    # Each role of each dialogue keeps its own KV cache (llama.cpp), so a turn only evaluates its new tokens.
    sessions = (f"{dialogue_id}/seeker", f"{dialogue_id}/supporter")
    seed = dialogue_seed(config.seed, dialogue_id)
    exemplars = exemplar_index(config.exemplars) if config.exemplars else None
    seeker = SeekerAgent(profile, config, seeker_backend, sessions[0], max_attempts, exemplars)
    if isinstance(supporter, Backend):
        policy: Policy | None = None
        if config.strategy_policy == "stages":
            policy = StagePolicy(config.max_turns, seed)
        elif config.strategy_policy == "classifier" and config.exemplars:
            policy = ClassifierPolicy(config.exemplars, config.max_turns, seed)
        supporter = SupporterAgent(config, supporter, sessions[1], max_attempts, policy, exemplars)
    run = _Run(config)
    termination, detail, substituted = "max_turns", "", []
    speaker: Speaker = config.opener
    last_support: tuple[str | None, str | None] = (None, None)  # (text, strategy) of the supporter's last turn
    last_seeker: str | None = None
    reported = Counter[str]()

    def accepted(turn: Turn) -> None:
        nonlocal reported
        run.turns.append(turn)
        if on_turn is not None:
            on_turn(turn, dict(run.rejected - reported))
        reported = Counter(run.rejected)

    try:
        while len(run.turns) < config.max_turns:
            index = len(run.turns)
            turn_seed = seed + 1000 * index
            if speaker == "seeker":
                may_end = index + 1 >= config.min_turns
                seeker.hear(index, last_support[0], last_support[1], may_end)
                s_result, problem = await run.best("seeker", seeker.propose, lambda v: v.message, turn_seed)
                if problem == "repeat" and not config.stop_on_repeat:
                    problem = None
                if problem:
                    termination, detail = ("repetition" if problem == "repeat" else "role_confusion"), \
                        f"seeker turn {index + 1}: {s_result.value.message[:120]!r}"
                    break
                reply = s_result.value
                before = set(seeker.state.revealed)
                disclosed = seeker.accept(s_result)
                last_seeker = reply.message
                crisis, by = list((await detector.ascore([reply.message]))[0].kinds), "text"
                if not crisis and carriers & (set(disclosed) - before):
                    crisis, by = list(profile.risk), "profile"
                if crisis:
                    risk_turns.append({"turn": index + 1, "kinds": crisis, "by": by})
                accepted(Turn(speaker="seeker", text=reply.message, disclosed=disclosed, intensity=reply.intensity))
                if reply.end and may_end and reply.intensity <= config.end_max_intensity:
                    termination, detail = "seeker_ended", f"felt helped at intensity {reply.intensity}"
                    break
            else:
                kinds = crisis if last_seeker else []
                supporter.hear(last_seeker, bool(kinds), risk_earlier=bool(risk_turns) and not kinds)

                def unsafe(value: Any, check: bool = bool(kinds)) -> str | None:
                    return "unsafe" if check and not detector.addresses(value.response) else None

                p_result, problem = await run.best("supporter", supporter.propose, lambda v: v.response, turn_seed,
                                                   unsafe)
                value, raw = p_result.value, p_result.completion.text
                if problem == "repeat" and not config.stop_on_repeat:
                    problem = None
                if problem == "unsafe":
                    value = safety_net_reply(value, kinds)
                    raw = value.model_dump_json()
                    substituted.append(index + 1)
                elif problem:
                    termination, detail = ("repetition" if problem == "repeat" else "role_confusion"), \
                        f"supporter turn {index + 1}: {value.response[:120]!r}"
                    break
                supporter.accept(value, raw)
                last_support = (value.response, value.strategy)
                accepted(Turn(speaker="supporter", text=value.response, strategy=value.strategy,
                              reasoning=reasoning_of(value)))
            speaker = "supporter" if speaker == "seeker" else "seeker"
    except StructuredOutputError as exc:
        termination, detail = "backend_failure", exc.message[:300]
    return Dialogue(
        id=dialogue_id, turns=run.turns, profile=profile, topic=profile.topic,
        emotion=profile.emotional_experience_words[0] if profile.emotional_experience_words else None,
        termination=termination,
        meta={
            "termination_detail": detail,
            "models": {"seeker": seeker_backend.model_id, "supporter": supporter.model_id},
            "disclosure": {"cued": seeker.state.allowed, "revealed": seeker.state.revealed,
                           "detector": seeker.state.detector.name},
            "rejected": dict(run.rejected), "safety_substituted_turns": substituted,
            "safety": {"layers": list(detector.layers) + (["llm"] if detector.llm is not None else []),
                       "risk_turns": risk_turns},
            "usage": {role: {k: round(v, 3) for k, v in u.items()} for role, u in run.usage.items()},
            "turn_usage": run.turn_usage, "seconds": round(time.perf_counter() - start, 3),
        },
    )
