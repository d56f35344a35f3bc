"""Diversity of a persona bank: near-duplicate removal, stratified / personality-balanced sampling, stats."""

from collections import Counter
from itertools import product

import pytest

from socialsim.corpus.profile import BIG_FIVE_POLES, Personality, Profile, SourceRef
from socialsim.errors import SocialsimError
from socialsim.personas.dedup import dedup_profiles
from socialsim.personas.extract import sample_personality
from socialsim.personas.sampling import allocate, parse_proportions, personality_balanced_sample, stratified_sample
from socialsim.personas.stats import age_band, bank_stats, format_stats

POLES = list(product(*BIG_FIVE_POLES.values()))


def make_profile(n: int, situation: str, topic: str = "job crisis", poles: int = 0, age: int = 30) -> Profile:
    return Profile(
        id=f"t#{n}", source=SourceRef(source="t", record_id=str(n)), gender="Female", age=age, occupation="clerk",
        personality=Personality(**dict(zip(BIG_FIVE_POLES, POLES[poles % 32], strict=True))), topic=topic,
        subtopic=f"{topic} detail", situation=situation, event_time="last week", event_location="at home",
        event_participants="my family", event_description="", emotional_experience_words=["sad", "tired"],
        coped_strategies_and_effects="talked to a friend, it helped a bit", goals_and_expectations="feel better",
    )


DISTINCT = [
    "I lost my job at the factory and cannot pay the rent this month.",
    "My girlfriend broke up with me after four years together.",
    "I have exams next week and I am far behind in chemistry.",
    "My father drinks every night and shouts at my mother.",
    "I wake up at 3am every night and cannot fall asleep again.",
    "Kids at school post mean pictures of me online.",
]
NEAR_DUPLICATES = [  # rewordings of DISTINCT[0] and DISTINCT[1]
    "I lost my job at the factory and I can't pay rent this month.",
    "My girlfriend broke up with me after we had been together four years.",
]


def test_dedup_removes_planted_near_duplicates_and_keeps_distinct_ones():
    profiles = [make_profile(i, s) for i, s in enumerate(DISTINCT + NEAR_DUPLICATES)]
    kept, removed = dedup_profiles(profiles, threshold=0.9)
    assert [p.situation for p in kept] == DISTINCT
    assert [(p.situation, dup) for p, dup, _ in removed] == [(NEAR_DUPLICATES[0], "t#0"), (NEAR_DUPLICATES[1], "t#1")]
    assert all(cos >= 0.9 for _, _, cos in removed)
    # A related but different situation stays (same topic, different event).
    related = make_profile(99, "I was promoted at work but my new manager keeps criticising me in meetings.")
    kept, removed = dedup_profiles([profiles[0], related], threshold=0.9)
    assert len(kept) == 2 and not removed


def test_allocate_follows_proportions_and_capacity():
    assert allocate({"a": 50, "b": 50, "c": 50}, 30, {"a": 1, "b": 1, "c": 1}) == {"a": 10, "b": 10, "c": 10}
    assert allocate({"a": 50, "b": 50}, 10, {"a": 3, "b": 1}) == {"a": 8, "b": 2}  # 7.5/2.5: ties by remainder
    # A stratum too small for its share gives what it has; the rest goes to the others by weight.
    assert allocate({"a": 2, "b": 50, "c": 50}, 30, {"a": 1, "b": 1, "c": 1}) == {"a": 2, "b": 14, "c": 14}
    with pytest.raises(SocialsimError, match="cannot sample 200"):
        allocate({"a": 50, "b": 50}, 200, {"a": 1, "b": 1})
    with pytest.raises(SocialsimError, match="only 5 of 10"):
        allocate({"a": 5, "b": 50}, 10, {"a": 1})


def test_stratified_sampling_matches_requested_proportions():
    topics = ["job crisis"] * 40 + ["grief"] * 25 + ["loneliness"] * 10 + ["academic pressure"] * 5
    bank = [make_profile(i, f"situation {i}", topic) for i, topic in enumerate(topics)]
    uniform = stratified_sample(bank, 20, "topic", "uniform", seed=1)
    assert Counter(p.topic for p in uniform) == {"job crisis": 5, "grief": 5, "loneliness": 5,
                                                "academic pressure": 5}
    as_bank = stratified_sample(bank, 16, "topic", "bank", seed=1)
    assert Counter(p.topic for p in as_bank) == {"job crisis": 8, "grief": 5, "loneliness": 2,
                                                "academic pressure": 1}
    asked = stratified_sample(bank, 12, "topic", parse_proportions("job crisis=2,grief=1"), seed=1)
    assert Counter(p.topic for p in asked) == {"job crisis": 8, "grief": 4}
    assert len({p.id for p in asked}) == 12  # no profile drawn twice
    assert [p.id for p in stratified_sample(bank, 12, "topic", seed=3)] == [
        p.id for p in stratified_sample(bank, 12, "topic", seed=3)]  # deterministic given the seed
    ages = stratified_sample([make_profile(i, "s", age=16 + 3 * i) for i in range(20)], 7, "age_band")
    assert max(Counter(age_band(p.age) for p in ages).values()) == 1
    with pytest.raises(SocialsimError, match="no topic 'money'"):
        stratified_sample(bank, 5, "topic", {"money": 1.0})
    with pytest.raises(SocialsimError, match="bad proportions"):
        parse_proportions("grief:2")


def test_personality_balanced_sampling_evens_out_poles():
    # A bank skewed 3:1 towards the first pole combination.
    bank = [make_profile(i, f"s{i}", poles=0 if i % 4 else 31) for i in range(40)]
    sample = personality_balanced_sample(bank, 10, seed=0)
    for trait in BIG_FIVE_POLES:
        counts = Counter(getattr(p.personality, trait) for p in sample)
        assert sorted(counts.values()) == [5, 5], (trait, counts)


def test_sampled_personalities_are_balanced_and_deterministic():
    people = [sample_personality(i, seed=7) for i in range(64)]
    assert len({p.as_text() for p in people[:32]}) == 32  # every combination once per block of 32
    for trait in BIG_FIVE_POLES:
        assert set(Counter(getattr(p, trait) for p in people).values()) == {32}
    assert people == [sample_personality(i, seed=7) for i in range(64)]
    assert people != [sample_personality(i, seed=8) for i in range(64)]


def test_stats_report_counts_diversity_and_rejections():
    bank = [make_profile(i, s, topic=t, poles=i, age=15 + 10 * i)
            for i, (s, t) in enumerate(zip(DISTINCT, ["job crisis", "breakup with partner", "academic pressure",
                                                    "alcohol abuse", "sleep problems", "school bullying"],
                                           strict=True))]
    same = [make_profile(i, DISTINCT[0]) for i in range(3)]
    rejections = [{"reason": "near_duplicate"}, {"reason": "near_duplicate"}, {"reason": "ungrounded"}]
    stats = bank_stats(bank, rejections)
    assert stats["profiles"] == 6 and len(stats["topics"]) == 6
    assert stats["age_bands"] == {"<18": 1, "25-34": 1, "35-44": 1, "45-54": 1, "55-64": 1, "65+": 1}
    assert sum(stats["personality_poles"]["openness"].values()) == 6
    assert stats["emotion_words"] == {"sad": 6, "tired": 6}
    assert stats["duplicates_removed"] == 2 and stats["rejections"] == {"near_duplicate": 2, "ungrounded": 1}
    assert stats["mean_pairwise_distance"] > 0.5
    assert bank_stats(same)["mean_pairwise_distance"] == pytest.approx(0.0, abs=1e-4)
    text = format_stats(stats)
    assert "mean_pairwise_distance" in text and "openness" in text and "job crisis 1" in text
