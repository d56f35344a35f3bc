"""Building a persona bank: grounding, risk flags, source hints, near-duplicates, resume, and the bank file.

The ScriptedBackend tests check orchestration only; the slow test runs the real embedded model end to end.
"""

import asyncio
import json
import os
import re
import subprocess
import sys

import pytest

from scripted import ScriptedBackend
from socialsim.config import SocialsimConfig
from socialsim.errors import InputFileError
from socialsim.personas.bank import read_bank
from socialsim.personas.build import build_bank, rejections_path
from socialsim.personas.config import PersonaConfig
from socialsim.personas.sources.builtin import builtin_seeds, topic_round_robin

POSTS = [
    {"id": "p1", "text": "I was fired from my job at the bakery on Monday. I have no savings and rent is due."},
    {"id": "p2", "text": "Sometimes I think about ending my life. Nobody at home notices how bad it is."},
    {"id": "p3", "text": "My husband hits me when he drinks. I am scared to tell anyone."},
    {"id": "p4", "text": "My exams start next week and I cannot focus on studying at all."},
    {"id": "p5", "text": "My best friend stopped talking to me after an argument about money."},
]


class OneBackend:
    """The backend provider's interface over one scripted backend (orchestration tests only)."""

    def __init__(self, backend):
        self.backend, self.stats, self.structured_attempts = backend, backend.stats, 3

    def get(self, role):
        assert role == "extractor"
        return self.backend


def answer(situation: str, event: str, **changes) -> str:
    fields = dict(situation=situation, event_description=event, topic="other", subtopic="a subtopic",
                  gender="Male", age=7, occupation="baker", event_time="last week", event_location="at home",
                  event_participants="my family", emotional_experience_words=["Sad", "afraid"],
                  coped_strategies_and_effects="I tried to sleep it off; it did not help.",
                  goals_and_expectations="I want to feel calmer.", initial_intensity=2)
    return json.dumps({**fields, **changes})


def source_text(request) -> str:
    return re.search(r'"""\n(.*)\n"""', request.messages[-1]["content"], re.S).group(1)


def echo(request) -> str:
    """A faithful extractor: situation and event description taken from the text."""
    first, _, rest = source_text(request).partition(". ")
    return answer(first + ".", (rest or first)[:250])


def write_posts(tmp_path, rows=POSTS):
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def build(source, out, backend, **kwargs):
    config = kwargs.pop("config", PersonaConfig(concurrency=1))
    return asyncio.run(build_bank(source, out, OneBackend(backend), config, progress=False, **kwargs))


def test_grounded_profiles_validate_trace_to_their_source_and_carry_risk_flags(tmp_path):
    out = tmp_path / "bank.jsonl"
    report = build(f"posts:{write_posts(tmp_path)}", out, ScriptedBackend(echo))
    assert (report.written, report.processed, sum(report.rejected.values())) == (5, 5, 0)
    profiles = {p.source.record_id: p for p in read_bank(out)}  # every line validates against the schema
    assert set(profiles) == {"p1", "p2", "p3", "p4", "p5"}
    assert profiles["p1"].id == "posts:posts.jsonl#p1" and profiles["p1"].source.source == "posts:posts.jsonl"
    assert profiles["p1"].situation == "I was fired from my job at the bakery on Monday."
    assert profiles["p2"].risk == ["suicidal_ideation"] and profiles["p3"].risk == ["abuse"]
    assert not any(profiles[k].risk for k in ("p1", "p4", "p5"))
    assert report.at_risk == 2
    assert all(p.grounding > 0.5 for p in profiles.values())
    p1 = profiles["p1"]
    assert p1.age == 14 and "age_clamped" in p1.flags  # the grammar cannot bound integers; we clamp
    assert p1.emotional_experience_words == ["sad", "afraid"]


def test_source_hints_override_the_model(tmp_path):
    path = tmp_path / "esconv.jsonl"
    record = {"situation": "My boss yells at me every day and I want to quit.", "problem_type": "Job Crisis",
              "emotion_type": "anger", "survey_score": {"seeker": {"initial_emotion_intensity": "5"}},
              "dialog": [{"speaker": "usr", "text": "Hi, work is awful."}, {"speaker": "sys", "text": "Oh?"},
                         *[{"speaker": "usr", "text": f"ok thanks, yes I guess so {i}"} for i in range(40)]]}
    path.write_text(json.dumps(record) + "\n")
    out = tmp_path / "bank.jsonl"
    backend = ScriptedBackend(echo)
    build(str(path), out, backend)  # bare path: ESConv detected
    (profile,) = read_bank(out)
    assert profile.source.source == "esconv:esconv.jsonl" and profile.source.record_id == "1"
    assert profile.topic == "job crisis" and profile.initial_intensity == 5  # model said "other" and 2
    assert profile.emotional_experience_words[0] == "anger"
    assert profile.grounding > 0.6  # matched on the situation paragraph, not drowned by the small talk
    prompt = backend.requests[0].messages[-1]["content"]
    assert "Hi, work is awful." in prompt and "Oh?" not in prompt  # only the seeker's words


def test_ungrounded_profile_is_rejected_or_flagged(tmp_path):
    def drifting(request):
        if "bakery" in source_text(request):  # invents a different story for p1
            return answer("I just adopted a kitten and I love painting watercolours.",
                          "We went hiking in the mountains and watched the sunset together.")
        return echo(request)

    posts = write_posts(tmp_path)
    out = tmp_path / "reject" / "bank.jsonl"
    report = build(f"posts:{posts}", out, ScriptedBackend(drifting))
    assert report.rejected == {"ungrounded": 1} and report.written == 4
    assert "p1" not in {p.source.record_id for p in read_bank(out)}
    (rejection,) = [json.loads(line) for line in rejections_path(out).read_text().splitlines()]
    assert rejection["record_id"] == "p1" and rejection["reason"] == "ungrounded"
    assert rejection["detail"].startswith("grounding ")

    out = tmp_path / "flag" / "bank.jsonl"
    report = build(f"posts:{posts}", out, ScriptedBackend(drifting),
                   config=PersonaConfig(grounding_policy="flag", concurrency=1))
    assert report.written == 5 and report.flagged >= 1
    flagged = {p.source.record_id: p for p in read_bank(out)}["p1"]
    assert "ungrounded" in flagged.flags and flagged.grounding < PersonaConfig().grounding_threshold


def test_near_duplicates_and_invalid_outputs_are_rejected_with_their_reason(tmp_path):
    rows = [*POSTS[:2], {"id": "p1-again", "text": POSTS[0]["text"].replace("Monday", "Tuesday")}]
    out = tmp_path / "bank.jsonl"
    report = build(f"posts:{write_posts(tmp_path, rows)}", out, ScriptedBackend(echo))
    assert report.rejected == {"near_duplicate": 1}
    rejection = json.loads(rejections_path(out).read_text())
    assert rejection["record_id"] == "p1-again" and "posts:posts.jsonl#p1" in rejection["detail"]

    out = tmp_path / "broken.jsonl"
    backend = ScriptedBackend(lambda request: "I am not JSON")
    report = build(f"posts:{write_posts(tmp_path, POSTS[:1])}", out, backend)
    assert report.rejected == {"invalid_output": 1} and len(backend.requests) == 3  # first try + 2 re-asks
    with pytest.raises(InputFileError, match="the persona bank is empty"):
        read_bank(out)


def test_resume_after_a_crash_processes_only_what_is_missing(tmp_path):
    posts, out = write_posts(tmp_path), tmp_path / "bank.jsonl"

    def crashing(request):
        if len(crashing_backend.requests) == 3:
            raise RuntimeError("power cut")
        return echo(request)

    crashing_backend = ScriptedBackend(crashing)
    with pytest.raises(RuntimeError, match="power cut"):
        build(f"posts:{posts}", out, crashing_backend)
    assert len(read_bank(out)) == 2  # finished profiles are on disk
    with out.open("a") as handle:
        handle.write('{"id": "half a line')  # a write cut short by the crash
    again = ScriptedBackend(echo)
    report = build(f"posts:{posts}", out, again)
    assert (report.already_done, report.processed, len(again.requests)) == (2, 3, 3)
    assert sorted(p.source.record_id for p in read_bank(out)) == ["p1", "p2", "p3", "p4", "p5"]
    report = build(f"posts:{posts}", out, ScriptedBackend(echo), limit=5)
    assert (report.already_done, report.processed) == (5, 0)


def test_read_bank_names_file_and_line(tmp_path):
    path = tmp_path / "bank.jsonl"
    build(f"posts:{write_posts(tmp_path, POSTS[:1])}", path, ScriptedBackend(echo))
    good = path.read_text()
    path.write_text(good + json.dumps({**json.loads(good), "age": "old"}) + "\n")
    with pytest.raises(InputFileError, match=r"bank\.jsonl, line 2, column 1: not a valid profile \(age:"):
        read_bank(path)


def test_cli_stats_and_sample(tmp_path):
    out = tmp_path / "bank.jsonl"
    build(f"posts:{write_posts(tmp_path)}", out, ScriptedBackend(echo))

    def cli(*args):
        result = subprocess.run([sys.executable, "-m", "socialsim", "personas", *args], capture_output=True,
                                text=True, env=os.environ, timeout=600)
        assert result.returncode == 0, result.stderr
        return result.stdout

    stats = json.loads(cli("stats", str(out), "--json"))
    assert stats["profiles"] == 5 and stats["at_risk"] == 2 and stats["mean_pairwise_distance"] > 0.3
    assert "topics" in cli("stats", str(out))
    sample = tmp_path / "sample.jsonl"
    assert "wrote 3 profiles" in cli("sample", str(out), "-n", "3", "--stratify", "personality", "--out", str(sample))
    assert len(read_bank(sample)) == 3


@pytest.mark.slow
def test_real_build_with_the_embedded_model(tmp_path):
    # One thread: on a busy 2-core machine llama.cpp's two threads spin-wait on each other and crawl.
    config = SocialsimConfig.model_validate({"llm": {"n_threads": 1}})
    out = tmp_path / "bank.jsonl"

    async def run():
        backends = config.backends(tmp_path)
        try:
            return await build_bank("builtin", out, backends, config.personas, limit=2, progress=False)
        finally:
            await backends.aclose()

    report = asyncio.run(run())
    assert report.processed == 2
    profiles = read_bank(out) if report.written else []
    rejected = [json.loads(line) for line in rejections_path(out).read_text().splitlines()]
    seeds = {s["id"]: s for s in topic_round_robin(builtin_seeds())[:2]}  # the order the source yields
    assert len({s["topic"] for s in seeds.values()}) == 2  # a first run spans topics
    assert sorted([p.source.record_id for p in profiles] + [r["record_id"] for r in rejected]) == sorted(seeds)
    assert report.written >= 1, rejected  # the embedded model grounds at least one of two clear posts
    for profile in profiles:
        assert profile.topic == seeds[profile.source.record_id]["topic"]
        assert profile.grounding >= config.personas.grounding_threshold
    again = asyncio.run(run())  # resume: nothing left to do, no model call
    assert (again.already_done, again.processed) == (2, 0)
