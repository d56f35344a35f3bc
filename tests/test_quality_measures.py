"""The quality measures on corpora whose answer is known: ESConv valid against ESConv test scores near the floor,
and ESConv made wrong on purpose (roles swapped, labels shuffled, frames pasted in, turns repeated, profiles of
another dialogue) scores far from it. Real embeddings (the [embed] extra), real ESConv, read from ../shared."""

import random

import pytest

from conftest import ESCONV
from socialsim.corpus.dialogue import STRATEGIES, Dialogue, Turn
from socialsim.corpus.profile import Personality, Profile, SourceRef
from socialsim.corpus.readers import read_corpus
from socialsim.evaluation.quality import Reference, disclosure_measured, measure, quality_rows
from socialsim.evaluation.quality.rates import cue_label, cue_label_rate, retention, rule_rate
from socialsim.evaluation.quality.realism import realism_auc
from socialsim.evaluation.quality.strategy import StrategyClassifier
from socialsim.simulation.disclosure import EmbeddingDetector


@pytest.fixture(scope="module")
def test_split() -> list[Dialogue]:
    return list(read_corpus(ESCONV / "test.jsonl"))


@pytest.fixture(scope="module")
def valid() -> list[Dialogue]:
    return random.Random(0).sample(list(read_corpus(ESCONV / "valid.jsonl")), 60)


def swapped(dialogues: list[Dialogue]) -> list[Dialogue]:
    """Every seeker utterance relabelled as the supporter's and the other way round."""
    flip = {"seeker": "supporter", "supporter": "seeker"}
    return [d.model_copy(update={"turns": [t.model_copy(update={"speaker": flip[t.speaker]}) for t in d.turns]})
            for d in dialogues]


def with_profile(d: Dialogue, situation: str) -> Dialogue:
    profile = Profile(
        id=f"p-{d.id}", source=SourceRef(source="test", record_id=d.id), gender="Unknown", age=30,
        occupation="unknown", topic=d.topic or "unknown", subtopic="unknown", situation=situation,
        personality=Personality(openness="Openness", conscientiousness="Conscientiousness",
                                extraversion="Extraversion", agreeableness="Agreeableness", neuroticism="Neuroticism"),
        event_time="unknown", event_location="unknown", event_participants="unknown", event_description="unknown",
        emotional_experience_words=["unknown"], coped_strategies_and_effects="unknown",
        goals_and_expectations="unknown")
    return d.model_copy(update={"profile": profile})


@pytest.mark.parametrize("role", ["seeker", "supporter"])
def test_realism_is_at_the_floor_for_real_dialogues_and_far_from_it_for_swapped_roles(role, valid, test_split):
    real = realism_auc(valid, test_split, role, max_utterances=800)
    wrong = realism_auc(swapped(valid), test_split, role, max_utterances=800)
    assert 0.4 <= real.value <= 0.6 and real.low <= 0.5 + 0.05, real
    assert wrong.value >= 0.68 and wrong.low > real.high, (real, wrong)


def test_strategy_agreement_matches_the_references_own_and_falls_to_chance_with_shuffled_labels(valid, test_split):
    classifier = StrategyClassifier.fit(test_split)
    assert 0.40 <= classifier.held_out.value <= 0.60  # MiniLM + logistic regression on 8 strategies
    real, _ = classifier.agreement(valid)
    assert abs(real.value - classifier.held_out.value) < 0.06, (real, classifier.held_out)
    rng = random.Random(1)
    shuffled = [d.model_copy(update={"turns": [t.model_copy(update={"strategy": rng.choice(STRATEGIES)})
                                               if t.speaker == "supporter" else t for t in d.turns]}) for d in valid]
    noise, chance = classifier.agreement(shuffled)
    assert noise.high < real.low and abs(noise.value - chance) < 0.05, (noise, chance)


def test_cue_labels_are_absent_from_esconv_and_found_when_frames_are_pasted_in(valid):
    assert cue_label_rate(valid).value < 0.01
    framed = [d.model_copy(update={"turns": [t.model_copy(update={"text": f"What happened: {t.text}"})
                                             if t.speaker == "seeker" else t for t in d.turns]}) for d in valid]
    assert cue_label_rate(framed).value == 1.0
    assert cue_label("My problem: I lost my job.") == "My problem"
    assert cue_label("I lost it. What I tried: running.") == "What I tried"
    assert cue_label("Thank you : ) see you at 10:30") is None


def test_repetition_is_rare_in_esconv_and_certain_when_every_turn_comes_twice(valid):
    assert rule_rate(valid, "repetition").value < 0.15
    twice = [d.model_copy(update={"turns": d.turns + d.turns}) for d in valid]
    assert rule_rate(twice, "repetition").value > 0.9


def test_profile_copy_is_rare_for_an_unrelated_profile_and_certain_for_a_copied_one(valid):
    others = [with_profile(d, "my neighbour keeps parking his truck across my driveway every single morning")
              for d in valid]
    assert rule_rate(others, "profile_copy").value < 0.05
    copied = [d.model_copy(update={"turns": [Turn(speaker="seeker", text=d.profile.situation + "."), *d.turns]})
              for d in others]
    assert rule_rate(copied, "profile_copy").value == 1.0


def test_filter_retention_is_high_for_esconv_and_low_with_swapped_roles(valid):
    assert retention(valid).value > 0.75
    assert retention(swapped(valid)).value < 0.1  # seeker turns now carry strategies


def test_disclosure_finds_a_dialogues_own_situation_and_not_another_dialogues(valid):
    situations = [d.meta["situation"] for d in valid]
    own = [with_profile(d, s) for d, s in zip(valid, situations, strict=True)]
    other = [with_profile(d, s) for d, s in zip(valid, situations[1:] + situations[:1], strict=True)]
    detector = EmbeddingDetector()

    def situation_said(dialogues: list[Dialogue]) -> float:
        return sum(any("situation" in detector.revealed(d.profile, t.text) for t in d.by("seeker"))
                   for d in dialogues) / len(dialogues)

    assert situation_said(own) >= 0.6 and situation_said(other) <= 0.3, (situation_said(own), situation_said(other))
    assert disclosure_measured(own).value > disclosure_measured(other).value


def test_the_quality_table_has_every_measure_for_every_corpus(valid, test_split):
    reference = Reference("test", test_split)
    results = [measure("valid", valid, reference), measure("swapped", swapped(valid), reference)]
    rows = quality_rows(results, reference)
    assert rows[0] == ["quality measure [95% interval]", "valid", "swapped"]
    labels = [r[0] for r in rows[1:]]
    for wanted in ("cue-label", "profile-copy", "repetition", "retention", "realism AUC, seekers",
                   "realism AUC, supporters", "strategy agreement"):
        assert any(wanted in label for label in labels), wanted
    realism = next(r for r in rows if r[0].startswith("realism AUC, seekers"))
    assert realism[1].startswith("0.") and "[" in realism[1]
