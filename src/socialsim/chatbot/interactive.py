"""Interactive evaluation: simulated seekers (held-out profiles) talk with a chatbot, the LLM judge scores the
dialogues, and the seekers' emotion intensity at the end is compared with the start.

The seeker is the simulator's :class:`~socialsim.simulation.seeker.SeekerAgent` (gradual disclosure, intensity
1-5 every turn, may end the conversation once ``simulation.min_turns`` utterances are reached); it opens the
dialogue. The chatbot answers through :class:`~socialsim.chatbot.chat.ChatSession`, so crisis turns get the safe
reply. Dialogues are appended (fsync) to ``OUT/dialogues.jsonl`` and a re-run resumes; the judge's verdicts go to
``OUT/judgements.jsonl`` (resumed the same way).
"""

import asyncio
import json
import statistics
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from socialsim.chatbot.chat import ChatSession
from socialsim.chatbot.dataset import system_prompt
from socialsim.config import SocialsimConfig
from socialsim.corpus.dialogue import Dialogue, Turn
from socialsim.corpus.readers import read_corpus
from socialsim.errors import SocialsimError
from socialsim.evaluation.judge import Judge, score_summary
from socialsim.evaluation.outputs import append_jsonl, write_atomic
from socialsim.llm.base import Backend
from socialsim.llm.structured import StructuredOutputError
from socialsim.llm.types import Message
from socialsim.personas.profile import Profile
from socialsim.simulation.config import SimulationConfig
from socialsim.simulation.engine import dialogue_seed
from socialsim.simulation.seeker import SeekerAgent

Respond = Callable[[list[Message]], Awaitable[str]]


@dataclass
class InteractiveResult:
    out_dir: Path
    summary: dict[str, Any]
    dialogues: list[Dialogue]


async def converse(profile: Profile, dialogue_id: str, seeker_backend: Backend, respond: Respond,
                   config: SimulationConfig, *, chatbot: str = "chatbot", max_attempts: int = 3) -> Dialogue:
    """One dialogue between the simulated seeker playing ``profile`` and a chatbot."""
    seeker = SeekerAgent(profile, config, seeker_backend, f"{dialogue_id}/seeker", max_attempts)
    session = ChatSession(system=system_prompt())
    turns: list[Turn] = []
    seed = dialogue_seed(config.seed, dialogue_id)
    termination, last_reply = "max_turns", None
    while len(turns) < config.max_turns:
        index = len(turns)
        may_end = index + 1 >= config.min_turns
        seeker.hear(index, last_reply, None, may_end)
        try:
            result = await seeker.propose(seed + 1000 * index)
        except StructuredOutputError:
            termination = "backend_failure"
            break
        disclosed = seeker.accept(result)
        turns.append(Turn(speaker="seeker", text=result.value.message, intensity=result.value.intensity,
                          disclosed=disclosed))
        if result.value.end and may_end:
            termination = "seeker_ended"
            break
        if len(turns) >= config.max_turns:
            break
        last_reply = await session.areply(result.value.message, respond)
        turns.append(Turn(speaker="supporter", text=last_reply))
    intensities = [t.intensity for t in turns if t.intensity is not None]
    return Dialogue(id=dialogue_id, turns=turns, profile=profile, topic=profile.topic, termination=termination,
                    meta={"chatbot": chatbot, "seeker_model": seeker_backend.model_id,
                          "crisis_turns": session.crisis_turns,
                          "initial_intensity": intensities[0] if intensities else None,
                          "final_intensity": intensities[-1] if intensities else None})


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
                               seeker_backend: Backend, judge_backend: Backend | None, config: SocialsimConfig, *,
                               chatbot: str, progress: bool = True) -> InteractiveResult:
    """Run ``n`` dialogues (profiles in order, cycled) into ``out_dir``, judge them, and summarise."""
    if not profiles:
        raise SocialsimError("no held-out profile left to talk with",
                             "give a persona bank whose profiles were not used to train this chatbot")
    out = Path(out_dir)
    path = out / "dialogues.jsonl"
    done = {d.id: d for d in read_corpus(path)} if path.is_file() and path.stat().st_size else {}
    jobs = [(f"{profiles[i % len(profiles)].id}-{i // len(profiles)}", profiles[i % len(profiles)])
            for i in range(n)]
    bar = tqdm(total=n, initial=sum(j in done for j, _ in jobs), desc="dialogues", unit="dlg",
               disable=not progress)
    for dialogue_id, profile in jobs:
        if dialogue_id in done:
            continue
        dialogue = await converse(profile, dialogue_id, seeker_backend, respond, config.simulation,
                                  chatbot=chatbot, max_attempts=config.structured.max_attempts)
        append_jsonl(path, dialogue.model_dump(mode="json", exclude_none=True))
        done[dialogue_id] = dialogue
        bar.update(1)
    bar.close()
    dialogues = [done[j] for j, _ in jobs]
    summary: dict[str, Any] = {
        "chatbot": chatbot, "dialogues": len(dialogues), "intensity": intensity_summary(dialogues),
        "terminations": dict(Counter(d.termination for d in dialogues)),
        "mean_utterances": statistics.mean(len(d.turns) for d in dialogues),
        "crisis_turns": sum(d.meta.get("crisis_turns", 0) for d in dialogues)}
    if judge_backend is not None:
        judge = Judge(judge_backend, config.evaluation.judge, out / "judgements.jsonl",
                      config.structured.max_attempts)
        records = await judge.score(dialogues, progress)
        judged = score_summary(records, config.evaluation.judge.bootstrap)
        summary["judge"] = {"model": judge_backend.model_id, "overall": asdict(judged["overall"]),
                            "dimensions": {k: asdict(v) for k, v in judged["dimensions"].items()},
                            "judged": judged["judged"], "failed": judged["failed"]}
    write_atomic(out / "summary.json", json.dumps(summary, indent=2, default=str))
    return InteractiveResult(out, summary, dialogues)


def local_respond(bot: Any) -> Respond:
    """A loaded :class:`~socialsim.chatbot.engine.LocalChatbot` as an async responder (runs in a thread)."""

    async def respond(prompt: list[Message]) -> str:
        return (await asyncio.to_thread(bot.generate, [prompt]))[0][0]

    return respond


def backend_respond(backend: Backend) -> Respond:
    """A socialsim backend (e.g. the ``chatbot`` role on an OpenAI-compatible server) as an async responder."""

    async def respond(prompt: list[Message]) -> str:
        from socialsim.llm.types import ChatRequest

        return (await backend.complete(ChatRequest(list(prompt), backend.default_sampling()))).text

    return respond
