"""Scaling the client out: worker processes with one durable writer, and what each call's prompt repeats.

Against benchmarks/latency_server.py (a real HTTP server answering schema-valid objects after a fixed latency)."""

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from latency_server import LatencyServer  # noqa: E402

from socialsim.config import SocialsimConfig  # noqa: E402
from socialsim.corpus.profile import Personality, Profile, SourceRef  # noqa: E402
from socialsim.llm.config import OpenAISettings  # noqa: E402
from socialsim.llm.openai_compat import OpenAIBackend  # noqa: E402
from socialsim.llm.prefix import PrefixTracker, common_prefix  # noqa: E402
from socialsim.llm.types import ChatRequest  # noqa: E402
from socialsim.simulation.runner import simulate_corpus  # noqa: E402


def profile(i: int) -> Profile:
    return Profile(
        id=f"p{i}", source=SourceRef(source="test", record_id=str(i)), gender="female", age=30, occupation="nurse",
        personality=Personality(openness="Openness", conscientiousness="Conscientiousness",
                                extraversion="Introversion", agreeableness="Agreeableness", neuroticism="Neuroticism"),
        topic="work stress", subtopic="night shifts", situation="Night shifts leave me exhausted.",
        event_time="last month", event_location="hospital", event_participants="my manager",
        event_description="I was moved to permanent night shifts.", emotional_experience_words=["tired"],
        coped_strategies_and_effects="Tried to sleep in the day.", goals_and_expectations="Sleep better.")


def config(base_url: str, processes: int) -> SocialsimConfig:
    return SocialsimConfig.model_validate({
        "llm": {"backend": "openai", "base_url": base_url, "model": "latency-server", "max_concurrency": 64},
        "simulation": {"min_turns": 4, "max_turns": 4, "in_flight": 8, "processes": processes}})


def run(cfg: SocialsimConfig, out: Path, n: int):
    async def go():
        backends = cfg.backends(out)
        try:
            return await simulate_corpus([profile(i) for i in range(3)], out, n, cfg.simulation, backends,
                                         progress=False)
        finally:
            await backends.aclose()

    return asyncio.run(go())


def test_worker_processes_write_every_dialogue_once_through_one_writer_and_share_the_cache(tmp_path, capfd):
    with LatencyServer(0.05) as server:
        report = run(config(server.base_url, processes=2), tmp_path, 10)
        assert report.finished_now == 10 and report.failed_now == 0 and "2 worker processes" in report.llm_summary
        lines = (tmp_path / "dialogues.jsonl").read_text().splitlines()
        dialogues = [json.loads(line) for line in lines]
        assert len({d["id"] for d in dialogues}) == 10 and all(len(d["turns"]) == 4 for d in dialogues)
        workers = {d["meta"]["worker"] for d in dialogues}
        assert len(workers) == 2  # two processes did the work; the driver wrote every line
        assert (tmp_path / "llm_cache.sqlite").stat().st_size > 0  # the workers shared the run's request cache
        before = server.requests
        again = run(config(server.base_url, processes=2), tmp_path, 12)  # resume: only the 2 new dialogues
        assert again.finished_before == 10 and again.finished_now == 2
        assert server.requests - before <= 2 * 4 * 3  # 2 dialogues of 4 turns (+ re-asks), not 12 dialogues
    # The workers (spawned: they write to this test's stderr) closed their HTTP clients before exiting.
    assert "Unclosed" not in capfd.readouterr().err


def test_each_call_counts_the_prefix_it_repeats_from_its_roles_previous_prompt():
    assert common_prefix([1, 2, 3, 4], [1, 2, 3, 9, 9]) == 3 and common_prefix("abc", "abcdef") == 3
    tracker = PrefixTracker(keep=2)
    assert tracker.repeat("a", [1, 2]) == 0 and tracker.repeat("a", [1, 2, 3]) == 2
    tracker.repeat("b", [5]), tracker.repeat("c", [6])  # "a" is forgotten: only 2 sessions are kept
    assert tracker.repeat("a", [1, 2, 3, 4]) == 0 and tracker.repeat(None, [1]) == 0

    system = {"role": "system", "content": "You are a caring supporter. " * 20}
    turn1 = [system, {"role": "user", "content": "I feel low."}]
    turn2 = [*turn1, {"role": "assistant", "content": "{}"}, {"role": "user", "content": "Work is hard."}]

    async def calls():
        backend = OpenAIBackend(OpenAISettings(backend="openai", base_url=server.base_url, model="m"))
        try:
            first = await backend.complete(ChatRequest(turn1, session="d1/supporter"))
            second = await backend.complete(ChatRequest(turn2, session="d1/supporter"))
            other = await backend.complete(ChatRequest(turn2, session="d2/supporter"))
        finally:
            await backend.aclose()
        return first, second, other

    with LatencyServer(0.0) as server:
        first, second, other = asyncio.run(calls())
    assert first.usage.prompt_tokens_prefix == 0 and other.usage.prompt_tokens_prefix == 0
    # turn 1 is a prefix of turn 2, and it is most of it
    assert 0.8 * second.usage.prompt_tokens < second.usage.prompt_tokens_prefix < second.usage.prompt_tokens
