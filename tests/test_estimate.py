"""The cost/time estimator: calibration from a corpus's meta.usage, bottleneck arithmetic, CLI."""

import json

import pytest
from typer.testing import CliRunner

from socialsim.cli.main import app
from socialsim.corpus.dialogue import Dialogue, Turn
from socialsim.errors import InputFileError, SocialsimError
from socialsim.scale.estimate import Prices, Throughput, calibrate, estimate


def _dialogue(i, calls=10, prompt=4000, evaluated=1000, completion=800, seconds=20.0, cached=0):
    half = {"calls": calls / 2, "cached": cached / 2, "prompt_tokens": prompt / 2,
            "prompt_tokens_evaluated": evaluated / 2, "completion_tokens": completion / 2, "seconds": seconds / 2}
    turns = [Turn(speaker="seeker", text="hi"), Turn(speaker="supporter", text="hello", strategy="Question")]
    return Dialogue(id=f"d{i}", turns=turns, meta={"usage": {"seeker": half, "supporter": half},
                                                    "models": {"seeker": "m", "supporter": "m"}})


def test_calibration_is_the_per_dialogue_mean_and_skips_unsimulated_dialogues():
    dialogues = [_dialogue(0), _dialogue(1, calls=12, seconds=28.0), Dialogue(id="esconv", turns=[])]
    c = calibrate(dialogues, "x.jsonl")
    assert c.dialogues == 2 and c.calls == 11 and c.prompt_tokens == 4000 and c.completion_tokens == 800
    assert c.seconds_per_call == pytest.approx(48 / 22) and c.models == ("m",)


def test_cached_calls_are_not_timed():
    c = calibrate([_dialogue(0, calls=10, cached=6, seconds=8.0)])
    assert c.seconds_per_call == pytest.approx(2.0)
    with pytest.raises(InputFileError, match="request cache"):
        calibrate([_dialogue(0, calls=10, cached=10, seconds=0.0)])


def test_in_process_model_is_serial_and_scales_linearly():
    c = calibrate([_dialogue(0)])  # 10 calls of 2 s
    e = estimate(50, c, Throughput(concurrency=1, in_flight=4))
    assert e.bottleneck == "latency" and e.wall_seconds == pytest.approx(50 * 20.0)
    assert e.output_tokens == 50 * 800 and e.input_tokens_evaluated == 50 * 1000


def test_the_largest_bottleneck_wins_and_prices_give_the_cost():
    c = calibrate([_dialogue(0)])
    t = Throughput(concurrency=256, in_flight=512, latency_s=1.0, output_tokens_per_s=2000,
                   requests_per_minute=6000, tokens_per_minute=2_000_000)
    e = estimate(100_000, c, t, Prices(input=0.15, output=0.60))
    assert e.bounds["latency"] == pytest.approx(1e6 / 256)  # a million calls, 256 at a time, 1 s each
    assert e.bounds["output tokens/s"] == pytest.approx(8e7 / 2000)
    assert e.bounds["requests/min"] == pytest.approx(1e6 / 100)
    assert e.bounds["tokens/min"] == pytest.approx(4.8e8 / 2e6 * 60)
    assert e.bottleneck == "output tokens/s" and e.wall_seconds == 40_000
    assert e.cost_usd == pytest.approx(4e8 * 0.15 / 1e6 + 8e7 * 0.60 / 1e6)
    rented = estimate(100_000, c, t, Prices(per_hour=20.0))
    assert rented.cost_usd == pytest.approx(40_000 / 3600 * 20.0)


def test_dialogues_in_flight_cap_the_useful_concurrency():
    c = calibrate([_dialogue(0)])
    few = estimate(1000, c, Throughput(concurrency=256, in_flight=8, latency_s=1.0))
    assert few.wall_seconds == pytest.approx(10_000 / 8)


def test_cli_prints_the_estimate_from_a_corpus(tmp_path):
    path = tmp_path / "dialogues.jsonl"
    path.write_text("".join(_dialogue(i).model_dump_json() + "\n" for i in range(3)))
    result = CliRunner().invoke(app, ["estimate", "-n", "100000", "--corpus", str(tmp_path), "--backend", "openai",
                                      "--concurrency", "64", "--in-flight", "128", "--price-input", "0.5",
                                      "--price-output", "1.5", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["calls"] == 1_000_000 and data["bottleneck"] == "latency"
    assert data["wall_seconds"] == pytest.approx(1e6 * 2.0 / 64)
    assert data["cost_usd"] == pytest.approx(4e8 * 0.5 / 1e6 + 8e7 * 1.5 / 1e6)
    text = CliRunner().invoke(app, ["estimate", "-n", "10", "--corpus", str(path)]).output
    assert "wall time:" in text and "bound by latency" in text


def test_cli_works_from_given_figures_without_a_corpus():
    args = ["estimate", "-n", "1000", "--calls-per-dialogue", "20", "--input-tokens-per-dialogue", "30000",
            "--output-tokens-per-dialogue", "3000", "--latency-s", "2", "--concurrency", "100", "--in-flight", "100"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["wall_seconds"] == pytest.approx(20_000 * 2 / 100)
    missing = CliRunner().invoke(app, ["estimate", "-n", "1000", "--calls-per-dialogue", "20"])
    assert isinstance(missing.exception, SocialsimError)
    assert "calibration corpus or per-dialogue figures" in missing.exception.message


def test_a_cached_input_price_applies_to_the_prompt_tokens_repeating_the_roles_previous_prompt(tmp_path):
    dialogues = [_dialogue(i) for i in range(2)]
    for d in dialogues:
        for role in ("seeker", "supporter"):
            d.meta["usage"][role]["prompt_tokens_prefix"] = 1800  # of 2000 per role: 90 %
    c = calibrate(dialogues)
    assert c.prompt_tokens_prefix == 3600 and c.prefix_share == pytest.approx(0.9)
    full = estimate(1000, c, Throughput(), Prices(input=1.0, output=2.0))
    cached = estimate(1000, c, Throughput(), Prices(input=1.0, output=2.0, cached_input=0.1))
    assert full.cost_usd == pytest.approx((4e6 * 1.0 + 8e5 * 2.0) / 1e6)
    assert cached.cost_usd == pytest.approx((4e5 * 1.0 + 3.6e6 * 0.1 + 8e5 * 2.0) / 1e6)
    path = tmp_path / "dialogues.jsonl"
    path.write_text("".join(d.model_dump_json() + "\n" for d in dialogues))
    result = CliRunner().invoke(app, ["estimate", "-n", "1000", "--corpus", str(path), "--price-input", "1",
                                      "--price-cached-input", "0.1", "--price-output", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["cost_usd"] == pytest.approx(cached.cost_usd) and data["input_tokens_prefix"] == 3.6e6
    manual = CliRunner().invoke(app, ["estimate", "-n", "1000", "--calls-per-dialogue", "20",
                                      "--input-tokens-per-dialogue", "4000", "--output-tokens-per-dialogue", "800",
                                      "--latency-s", "2", "--prefix-share", "0.9", "--price-input", "1",
                                      "--price-cached-input", "0.1", "--price-output", "2", "--json"])
    assert json.loads(manual.output)["cost_usd"] == pytest.approx(cached.cost_usd)
