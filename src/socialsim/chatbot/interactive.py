"""Interactive evaluation: simulated seekers (held-out profiles) talk with a chatbot, the LLM judge scores the
dialogues, and the seekers' emotion intensity at the end is compared with the start.

The dialogue is the simulator's own (:func:`~socialsim.simulation.conversation.simulate_dialogue`) with the chatbot
in the supporter's seat: the same seeker (gradual disclosure, intensity 1-5 every turn, may end once
``simulation.min_turns`` utterances are reached), the same role, repeat and crisis checks (a reply that does not
address a crisis turn is replaced by the safe reply, and counted), the same endings. Each dialogue is an item of
one task on the engine: appended (fsync) to ``OUT/dialogues.jsonl``, and a re-run resumes; the judge's verdicts go
to ``OUT/judgements.jsonl`` (resumed the same way).
"""

import asyncio
import json
import statistics
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from socialsim.chatbot.dataset import parse_reply, system_prompt
from socialsim.corpus.atomic import check_output, write_atomic
from socialsim.corpus.dialogue import Dialogue
from socialsim.corpus.profile import Profile
from socialsim.corpus.readers import read_corpus
from socialsim.engine import Item, RunOptions, Task, run_task
from socialsim.errors import SocialsimError
from socialsim.evaluation.config import JudgeConfig
from socialsim.evaluation.judge import Judge, score_summary
from socialsim.llm.base import Backend
from socialsim.llm.roles import BackendProvider
from socialsim.llm.structured import Structured
from socialsim.llm.types import ChatRequest, Completion, Message
from socialsim.safety import RiskDetector, SafetyConfig
from socialsim.simulation.config import SimulationConfig
from socialsim.simulation.conversation import simulate_dialogue
from socialsim.simulation.runner import safety_detector

Respond = Callable[[list[Message]], Awaitable[str]]
DIALOGUES, JUDGEMENTS, SUMMARY = "dialogues.jsonl", "judgements.jsonl", "summary.json"


@dataclass
class InteractiveResult:
    out_dir: Path
    summary: dict[str, Any]
    dialogues: list[Dialogue]


@dataclass
class ChatbotReply:
    response: str
    strategy: str | None  # the '[Strategy]' a model trained with strategies wrote, else None


class ChatbotSeat:
    """A chatbot in the supporter's seat of the simulator's dialogue loop (one per dialogue)."""

    def __init__(self, respond: Respond, name: str) -> None:
        self.respond, self.model_id = respond, name
        self.messages: list[Message] = [{"role": "system", "content": system_prompt()}]

    def hear(self, seeker_text: str | None, crisis: bool, risk_earlier: bool = False) -> None:
        if seeker_text is not None:
            self.messages.append({"role": "user", "content": seeker_text})

    async def propose(self, seed: int) -> Structured[ChatbotReply]:
        raw = await self.respond(list(self.messages))
        reply, strategy = parse_reply(raw)
        return Structured(ChatbotReply(reply, strategy), Completion(text=raw, model=self.model_id), 1, False)

    def accept(self, reply: ChatbotReply, raw_text: str) -> None:
        self.messages.append({"role": "assistant", "content": reply.response})


class InteractiveTask(Task[Profile, Dialogue]):
    """One item = one dialogue between the simulated seeker playing a profile and the chatbot."""

    sinks = {"dialogues": "id"}
    label, unit = "dialogues", "dlg"

    def __init__(self, respond: Respond, chatbot: str, seeker: Backend, config: SimulationConfig,
                 max_attempts: int, detector: RiskDetector | None = None) -> None:
        self.respond, self.chatbot, self.seeker = respond, chatbot, seeker
        self.config, self.max_attempts, self.detector = config, max_attempts, detector

    async def run(self, item: Item[Profile]) -> Dialogue:
        seat = ChatbotSeat(self.respond, self.chatbot)
        return await simulate_dialogue(item.payload, item.id, self.seeker, seat, self.config,
                                       max_attempts=self.max_attempts, detector=self.detector)

    def accept(self, item: Item[Profile], result: Dialogue) -> list[tuple[str, dict[str, Any]]]:
        intensities = [t.intensity for t in result.turns if t.intensity is not None]
        result.meta.update({"chatbot": self.chatbot, "initial_intensity": intensities[0] if intensities else None,
                            "final_intensity": intensities[-1] if intensities else None})
        return [("dialogues", result.model_dump(mode="json", exclude_none=True))]


def held_out(profiles: Sequence[Profile], training_corpus: str | None) -> list[Profile]:
    """Profiles whose id does not occur in the chatbot's training corpus (when it is known and readable)."""
    if not training_corpus or not Path(training_corpus).is_file():
        return list(profiles)
    seen = {d.profile.id for d in read_corpus(training_corpus) if d.profile is not None}
    return [p for p in profiles if p.id not in seen]


def intensity_summary(dialogues: Sequence[Dialogue]) -> dict[str, Any]:
    pairs = [(d.meta["initial_intensity"], d.meta["final_intensity"]) for d in dialogues
             if d.meta.get("initial_intensity") is not None]
    if not pairs:
        return {"dialogues": 0}
    changes = [final - initial for initial, final in pairs]
    return {"dialogues": len(pairs), "initial_mean": statistics.mean(i for i, _ in pairs),
            "final_mean": statistics.mean(f for _, f in pairs), "change_mean": statistics.mean(changes),
            "improved": sum(c < 0 for c in changes), "unchanged": sum(c == 0 for c in changes),
            "worse": sum(c > 0 for c in changes)}


async def evaluate_interactive(profiles: Sequence[Profile], n: int, out_dir: str | Path, respond: Respond,
                               backends: BackendProvider, config: SimulationConfig, judge: JudgeConfig | None, *,
                               chatbot: str, progress: bool = True,
                               safety: SafetyConfig | None = None) -> InteractiveResult:
    """Run ``n`` dialogues (profiles in order, cycled) into ``out_dir`` with the ``seeker`` role of ``backends``,
    judge them with its ``judge`` role (unless ``judge`` is None), and summarise. ``safety`` is the safety net's
    section (default: the configured one; its LLM layer, when on, asks the judge role)."""
    if not profiles:
        raise SocialsimError("no held-out profile left to talk with",
                             "give a persona bank whose profiles were not used to train this chatbot")
    out = Path(out_dir)
    check_output(out, directory=True)
    jobs = [Item(f"{profiles[i % len(profiles)].id}-{i // len(profiles)}", profiles[i % len(profiles)])
            for i in range(n)]
    detector = safety_detector(safety, backends) if safety is not None else None
    task = InteractiveTask(respond, chatbot, backends.get("seeker"), config, backends.structured_attempts,
                           detector)
    run = await run_task(task, jobs, {"dialogues": out / DIALOGUES}, failures=out / "failures.jsonl",
                         options=RunOptions(retries=config.dialogue_retries,
                                            stop_after_failures=config.stop_after_failures, progress=progress))
    wanted = {job.id for job in jobs}
    done = {d.id: d for d in read_corpus(out / DIALOGUES) if d.id in wanted}
    dialogues = [done[job.id] for job in jobs if job.id in done]
    summary: dict[str, Any] = {
        "chatbot": chatbot, "dialogues": len(dialogues), "failed": run.failed_now,
        "intensity": intensity_summary(dialogues),
        "terminations": dict(Counter(d.termination for d in dialogues)),
        "mean_utterances": statistics.mean(len(d.turns) for d in dialogues) if dialogues else 0.0,
        "crisis_turns": sum(len(d.meta.get("safety_substituted_turns", [])) for d in dialogues)}
    if judge is not None and dialogues:
        judging = Judge(backends.get("judge"), judge, out / JUDGEMENTS, backends.structured_attempts)
        records = await judging.score(dialogues, progress)
        judged = score_summary(records, judge.bootstrap)
        summary["judge"] = {"model": judging.backend.model_id, "overall": asdict(judged["overall"]),
                            "dimensions": {k: asdict(v) for k, v in judged["dimensions"].items()},
                            "judged": judged["judged"], "failed": judged["failed"]}
    write_atomic(out / SUMMARY, json.dumps(summary, indent=2, default=str))
    return InteractiveResult(out, summary, dialogues)


def local_respond(bot: Any) -> Respond:
    """A loaded :class:`~socialsim.chatbot.engine.LocalChatbot` as an async responder (runs in a thread)."""

    async def respond(prompt: list[Message]) -> str:
        return (await asyncio.to_thread(bot.generate, [prompt]))[0][0]

    return respond


def backend_respond(backend: Backend) -> Respond:
    """A socialsim backend (e.g. the ``chatbot`` role on an OpenAI-compatible server) as an async responder."""

    async def respond(prompt: list[Message]) -> str:
        return (await backend.complete(ChatRequest(list(prompt), backend.default_sampling()))).text

    return respond
