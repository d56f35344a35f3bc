"""Train a tiny randomly initialised model for a few CPU steps and evaluate it end to end (the real code path)."""

import json
import subprocess
import sys

import pytest

from conftest import ESCONV
from socialsim.chatbot.config import ChatbotConfig
from socialsim.chatbot.evaluate import evaluate_model
from socialsim.chatbot.model import META_FILE, ModelLoadError, check_memory, resolve_model
from socialsim.chatbot.train import train_chatbot
from socialsim.errors import SocialsimError


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A 2-layer Llama (hidden size 32) with the SmolLM2 tokenizer and chat template, random weights."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from socialsim.chatbot.model import load_tokenizer

    torch.set_num_threads(1)
    tokenizer = load_tokenizer(resolve_model("embedded"))
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny")
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    """Tokenised data go to a temporary cache, not the user's ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "esconv3.jsonl"
    path.write_text("".join((ESCONV / "train.jsonl").read_text().splitlines(keepends=True)[:3]))
    return path


def _config(tiny_model, **training):
    return ChatbotConfig.model_validate({
        "data": {"max_length": 96, "validation_fraction": 0.0},
        "training": {"base_model": str(tiny_model), "method": "full", "learning_rate": 3e-3, "max_steps": 8,
                     "batch_size": 4, "save_steps": 4, "logging_steps": 2, "n_threads": 1, **training},
        "generation": {"max_new_tokens": 8, "batch_size": 8},
    })


class StopAt(Exception):
    pass


def _interrupt_at(step):
    from transformers import TrainerCallback

    class Interrupt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == step:
                raise StopAt

    return Interrupt()


def test_train_interrupt_resume_then_evaluate_end_to_end(tiny_model, corpus, tmp_path):
    config = _config(tiny_model)
    run = tmp_path / "run"
    with pytest.raises(StopAt):  # interrupted after the checkpoint of step 4
        train_chatbot(corpus, run, config, progress=False, callbacks=[_interrupt_at(6)])
    assert (run / "checkpoints" / "checkpoint-4").is_dir() and not (run / "model").exists()
    with pytest.raises(ModelLoadError, match="unfinished training run"):
        resolve_model(str(run))

    result = train_chatbot(corpus, run, config, progress=False)
    assert result.resumed_from.endswith("checkpoint-4") and result.steps == 8
    assert result.tokens > 0 and result.tokens_per_s > 0
    record = json.loads((run / "run.json").read_text())
    assert len(record["data_hash"]) == 64 and record["config"]["training"]["method"] == "full"
    assert (run / "curve.png").stat().st_size > 1000
    assert json.loads((run / "model" / META_FILE).read_text())["data_hash"] == record["data_hash"]
    with pytest.raises(SocialsimError, match="already holds a trained model"):
        train_chatbot(corpus, run, config, progress=False)

    # the same evaluation path for the untrained base and the trained model; training must lower gold perplexity
    base = evaluate_model(str(tiny_model), corpus, config, out_dir=tmp_path / "eval-base", max_samples=6,
                          progress=False)
    trained = evaluate_model(str(run), corpus, config, out_dir=tmp_path / "eval-trained", max_samples=6,
                             progress=False)
    assert trained.meta["trained"] and not base.meta["trained"]
    assert trained.scores["perplexity"] < 0.8 * base.scores["perplexity"]
    lines = [json.loads(x) for x in (tmp_path / "eval-trained" / "predictions.jsonl").read_text().splitlines()]
    assert len(lines) == 6 and {"prediction", "reference", "context", "raw"} <= set(lines[0])
    again = evaluate_model(str(run), corpus, config, out_dir=tmp_path / "eval-again", max_samples=6, progress=False)
    assert again.scores == trained.scores  # greedy decoding and a seeded sample: deterministic
    # An evaluation interrupted after 2 replies (and mid-write of a third) resumes to the same scores.
    partial = (tmp_path / "eval-again" / "predictions.jsonl")
    partial.write_text("".join(partial.read_text().splitlines(keepends=True)[:2]) + '{"id": "torn')
    resumed = evaluate_model(str(run), corpus, config, out_dir=tmp_path / "eval-again", max_samples=6,
                             progress=False)
    assert resumed.meta["resumed"] == 2 and resumed.scores == trained.scores
    scores = json.loads((tmp_path / "eval-trained" / "scores.json").read_text())
    assert scores["scores"]["n"] == 6 and scores["meta"]["sample_seed"] == 0


def test_lora_training_merges_into_a_plain_model(tiny_model, corpus, tmp_path):
    import torch

    config = _config(tiny_model, method="lora", max_steps=2, save_steps=10).model_copy(update={"precision": "bf16"})
    result = train_chatbot(corpus, tmp_path / "lora", config, progress=False)
    assert result.steps == 2 and not result.cache_hit and result.tokenise_seconds > 0
    files = {p.name for p in (tmp_path / "lora" / "model").iterdir()}
    assert "model.safetensors" in files and "adapter_config.json" not in files  # merged
    env = json.loads((tmp_path / "lora" / "run.json").read_text())["environment"]
    assert env["device"] == result.device == "cpu" and env["precision"] == "fp32"  # bf16 falls back on the CPU
    assert env["precision_fallback"].startswith("bf16 asked for") and env["versions"]["torch"] == torch.__version__
    assert {"transformers", "peft", "accelerate", "python"} <= set(env["versions"])
    again = train_chatbot(corpus, tmp_path / "lora", config, progress=False, overwrite=True)
    assert again.cache_hit and again.tokenise_seconds == 0  # the second run reads the tokenised data from the cache


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "socialsim", *args], capture_output=True, text=True, timeout=300)


def test_bad_models_are_clear_errors_and_write_nothing(tmp_path, corpus):
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    result = _cli("eval-chatbot", str(empty), "--data", str(corpus), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "is not a model folder" in result.stderr
    huge = tmp_path / "huge"
    huge.mkdir()
    (huge / "config.json").write_text(json.dumps({  # a 70B-class Llama: config only, no weights
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 8192,
        "intermediate_size": 28672, "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8,
        "vocab_size": 128256}))
    with pytest.raises(ModelLoadError, match=r"M parameters: full training in fp32 needs about .* GiB"):
        check_memory(resolve_model(str(huge)), training="full")
    result = _cli("eval-chatbot", str(huge), "--data", str(corpus), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "GiB" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_chat_streams_replies_and_answers_crisis_turns_with_the_safe_reply(tiny_model):
    from socialsim.chatbot.chat import ChatSession
    from socialsim.chatbot.config import GenerationConfig
    from socialsim.chatbot.engine import LocalChatbot
    from socialsim.safety import addresses_safety, crisis_reply, detect_risk

    bot = LocalChatbot.load(resolve_model(str(tiny_model)),
                            GenerationConfig(do_sample=True, temperature=1.0, max_new_tokens=6))
    calls = []

    class Counting:
        def stream(self, prompt):
            calls.append(prompt)
            yield from bot.stream(prompt)

    session = ChatSession(Counting())
    pieces = list(session.send("I had a rough week at work."))
    assert len(calls) == 1 and calls[0][-1] == {"role": "user", "content": "I had a rough week at work."}
    assert pieces and session.history[-1]["role"] == "assistant"
    crisis = "I don't want to live anymore, I want to end my life."
    assert detect_risk(crisis)
    reply = "".join(session.send(crisis))
    assert len(calls) == 1  # the model is not asked on a crisis turn
    assert reply == crisis_reply() and addresses_safety(reply) and session.crisis_turns == 1
    assert [m["role"] for m in session.history] == ["user", "assistant", "user", "assistant"]


PROFILE = {
    "id": "test#p1", "source": {"source": "test", "record_id": "p1"}, "gender": "Female", "age": 29,
    "occupation": "nurse", "personality": {"openness": "Openness", "conscientiousness": "Conscientiousness",
                                           "extraversion": "Introversion", "agreeableness": "Agreeableness",
                                           "neuroticism": "Neuroticism"},
    "topic": "job crisis", "subtopic": "night shifts", "situation": "I am exhausted by night shifts.",
    "event_time": "last month", "event_location": "the hospital", "event_participants": "my manager",
    "event_description": "My manager put me on night shifts for three months.",
    "emotional_experience_words": ["tired", "anxious"], "coped_strategies_and_effects": "Coffee, it barely helps.",
    "goals_and_expectations": "I want to sleep again and talk to my manager.", "initial_intensity": 4,
}


@pytest.mark.slow
def test_interactive_evaluation_with_the_real_seeker_and_judge(tiny_model, tmp_path):
    """The embedded SmolLM2 plays the seeker and the judge; the chatbot is the tiny model."""
    import asyncio

    from socialsim.chatbot.config import GenerationConfig
    from socialsim.chatbot.engine import LocalChatbot
    from socialsim.chatbot.interactive import evaluate_interactive, local_respond
    from socialsim.config import SocialsimConfig
    from socialsim.corpus.profile import Profile

    config = SocialsimConfig.model_validate({"simulation": {"max_turns": 3, "min_turns": 2},
                                             "evaluation": {"judge": {"max_tokens": 400}}})
    bot = LocalChatbot.load(resolve_model(str(tiny_model)), GenerationConfig(max_new_tokens=8))
    profile = Profile.model_validate(PROFILE)

    async def run():
        roles = config.backends(tmp_path)
        try:
            return await evaluate_interactive([profile], 1, tmp_path / "ie", local_respond(bot), roles,
                                              config.simulation, config.evaluation.judge, chatbot="tiny",
                                              progress=False)
        finally:
            await roles.aclose()

    result = asyncio.run(run())
    dialogue = result.dialogues[0]
    assert dialogue.profile.id == "test#p1" and dialogue.turns[0].speaker == "seeker"
    assert [t.speaker for t in dialogue.turns] == ["seeker", "supporter", "seeker"][:len(dialogue.turns)]
    assert dialogue.meta["initial_intensity"] in range(1, 6)
    summary = json.loads((tmp_path / "ie" / "summary.json").read_text())
    assert summary["intensity"]["dialogues"] == 1 and summary["dialogues"] == 1
    assert summary["judge"]["judged"] + summary["judge"]["failed"] == 1
    lines = (tmp_path / "ie" / "dialogues.jsonl").read_text().splitlines()
    again = asyncio.run(run())  # resumes: nothing new is simulated
    assert (tmp_path / "ie" / "dialogues.jsonl").read_text().splitlines() == lines
    assert again.dialogues[0].turns == dialogue.turns


def _gpu_script(tmp_path, *args):
    import os
    import re

    from conftest import ROOT

    env = {**os.environ, "OUT": str(tmp_path / "table"), "PYTHON": sys.executable, "ESCONV": str(ESCONV)}
    result = subprocess.run(["bash", str(ROOT / "benchmarks" / "chatbot_gpu.sh"), "--device", "cpu", "--max-samples",
                             "20", "--sim-corpus", str(ESCONV / "valid.jsonl"), *args], capture_output=True,
                            text=True, timeout=2700, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    # the evaluation's progress bar shows the rate and the time left
    assert re.search(r"\d+/20 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+(reply/s|s/reply)", result.stderr), result.stderr[-2000:]
    results = json.loads((tmp_path / "table" / "results.json").read_text())["results"]
    assert set(results) == {"base", "esconv", "sim"}
    trained = [results[r]["training"] for r in ("esconv", "sim")]
    assert [t["train_examples"] for t in trained] == [20, 20] and trained[0]["steps"] == trained[1]["steps"] >= 1
    assert all(results[r]["eval"]["examples"] == 20 and results[r]["eval"]["device"].startswith("cpu")
               for r in results)
    assert all(t["device"] == "cpu" for t in trained)
    table = (tmp_path / "table" / "table.md").read_text()
    for label in ("| base |", "| fine-tuned on ESConv train |", "| fine-tuned on the simulated corpus |",
                  "| esconv - base | sim - base | sim - esconv |", "| BLEU-2 |", "| gold PPL |"):
        assert label in table
    assert len(re.findall(r"\[[+-]\d+\.\d\d, [+-]\d+\.\d\d\]", table)) == 3 * 7  # 3 pairs x 7 metrics
    return results


def test_the_gpu_table_script_runs_on_the_cpu(tiny_model, tmp_path):
    """benchmarks/chatbot_gpu.sh end to end on the CPU at 20 turns; the simulated row trains on ESConv valid as a
    stand-in corpus (the script's mechanics are under test here, not which corpus is better)."""
    _gpu_script(tmp_path, "--base-model", str(tiny_model), "--batch-size", "4", "--max-length", "160",
                "--max-new-tokens", "8", "--gen-batch-size", "10")


@pytest.mark.slow
@pytest.mark.timeout(2800)  # minutes on an idle 2-core machine; over 25 min at load 10-15
def test_the_gpu_table_script_runs_on_the_cpu_with_the_embedded_model(tmp_path):
    # the GPU sizes (32 x 512 tokens, 64 new tokens) need over 20 GB on a CPU; the mechanics are the same smaller
    results = _gpu_script(tmp_path, "--batch-size", "4", "--max-length", "256", "--gen-batch-size", "10",
                          "--max-new-tokens", "16")
    assert results["base"]["eval"]["scores"]["perplexity"] < 100  # the real SmolLM2, not a random model
