"""Tokenised training data: the same token ids as the chat template, cached by data + tokenizer, hit on a rerun."""

import pytest

from conftest import ESCONV
from socialsim.chatbot import tokenised as tok_module
from socialsim.chatbot.config import DatasetConfig
from socialsim.chatbot.dataset import build_training_set, chat_token_counter
from socialsim.chatbot.model import load_tokenizer, resolve_model
from socialsim.chatbot.tokenised import ExampleDataset, PadCollator, tokenise


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(resolve_model("embedded"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "esconv12.jsonl"
    path.write_text("".join((ESCONV / "train.jsonl").read_text().splitlines(keepends=True)[:12]))
    return path


def _reference_ids(tokenizer, options, corpus):
    """Each training example as apply_chat_template tokenises it (the slow, obviously right way), except those
    whose prompt alone fills max_length (nothing left to learn)."""
    examples = build_training_set(corpus, options, chat_token_counter(tokenizer)).train
    out = []
    for e in examples:
        prompt = tokenizer.apply_chat_template(e.prompt, tokenize=True, add_generation_prompt=True, return_dict=False)
        full = tokenizer.apply_chat_template(e.messages, tokenize=True, return_dict=False)
        if len(prompt) < options.max_length:
            out.append((list(full), len(prompt)))
    return out


@pytest.mark.parametrize("options", [
    DatasetConfig(max_length=384, validation_fraction=0.0),
    DatasetConfig(max_length=256, include_strategy=True, max_history_turns=4, validation_fraction=0.0),
    DatasetConfig(max_length=512, validation_fraction=0.0, max_examples=25, sample_seed=3),
], ids=["history-cut", "strategy-targets", "sample"])
def test_examples_are_token_for_token_those_of_the_chat_template(tokenizer, corpus, tmp_path, options):
    data = tokenise(corpus, options, tokenizer, cache_dir=tmp_path)
    assert data.meta["mode"] == "segments" and data.meta["dropped_examples"] == 0
    train, _ = data.split(options)
    ours = [(ids.tolist(), prompt) for ids, prompt in (data.example(int(r)) for r in train)]
    assert ours == _reference_ids(tokenizer, options, corpus)
    # what the trainer sees: ids cut at max_length, loss only on the reply (and its end-of-turn tokens)
    item = ExampleDataset(data, train, options.max_length)[0]
    ids, prompt = ours[0]
    assert item["input_ids"].tolist() == ids[:options.max_length]
    assert (item["labels"][:prompt] == -100).all() and item["labels"][prompt:].tolist() == ids[prompt:]
    batch = PadCollator(tokenizer.pad_token_id, 8)([ExampleDataset(data, train, 512)[i] for i in range(3)])
    assert batch["input_ids"].shape[1] % 8 == 0
    assert batch["attention_mask"].sum().item() == sum(len(ours[i][0]) for i in range(3))
    assert ((batch["labels"] != -100).sum(dim=1) == batch["attention_mask"].sum(dim=1) -
            batch["attention_mask"].new_tensor([ours[i][1] for i in range(3)])).all()


def test_a_template_that_is_not_per_message_is_tokenised_whole(tokenizer, corpus, tmp_path):
    """A template folding the system prompt into the first user turn (Mistral-like) cannot be cut per message: the
    comparison with apply_chat_template finds it and every example is then tokenised whole."""
    odd = load_tokenizer(resolve_model("embedded"))
    odd.chat_template = (  # per-role probes look fine; only a whole dialogue shows the fold
        "{% set ns = namespace(folded=false) %}{% for m in messages %}{% if m['role'] == 'system' %}"
        "{% elif m['role'] == 'user' and not ns.folded %}{% set ns.folded = true %}"
        "<|im_start|>user\n{{ messages[0]['content'] }}\n\n{{ m['content'] }}<|im_end|>\n{% else %}"
        "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    options = DatasetConfig(max_length=384, validation_fraction=0.0)
    data = tokenise(corpus, options, odd, cache_dir=tmp_path)
    assert data.meta["mode"] == "whole" and data.meta["dropped_examples"] > 0  # the counter underestimates here
    train, _ = data.split(options)
    assert [(ids.tolist(), p) for ids, p in (data.example(int(r)) for r in train)] == \
        _reference_ids(odd, options, corpus)


def test_the_cache_is_hit_on_a_second_run_and_keyed_by_data_options_and_tokenizer(tokenizer, corpus, tmp_path,
                                                                                  monkeypatch):
    options = DatasetConfig(max_length=384)
    first = tokenise(corpus, options, tokenizer, cache_dir=tmp_path)
    assert not first.cache_hit and (first.folder / "meta.json").is_file()

    def no_reading(*args, **kwargs):
        raise AssertionError("the corpus was tokenised again")

    monkeypatch.setattr(tok_module, "read_corpus", no_reading)
    second = tokenise(corpus, options.model_copy(update={"max_examples": 10}), tokenizer, cache_dir=tmp_path)
    assert second.cache_hit and second.folder == first.folder  # a sample size is drawn at use, same entry
    assert second.data_hash(*second.split(options)) == first.data_hash(*first.split(options))
    monkeypatch.undo()

    other_options = tokenise(corpus, options.model_copy(update={"max_length": 200}), tokenizer, cache_dir=tmp_path)
    changed = corpus.parent / "changed.jsonl"
    changed.write_text("".join(corpus.read_text().splitlines(keepends=True)[:11]))
    other_data = tokenise(changed, options, tokenizer, cache_dir=tmp_path)
    other = load_tokenizer(resolve_model("embedded"))
    other.chat_template = tokenizer.chat_template.replace("<|im_start|>", "<|im_start|> ", 1)
    other_tokenizer = tokenise(corpus, options, other, cache_dir=tmp_path)
    keys = {first.key, other_options.key, other_data.key, other_tokenizer.key}
    assert len(keys) == 4 and not any(d.cache_hit for d in (other_options, other_data, other_tokenizer))
    assert len([p for p in tmp_path.iterdir() if not p.name.startswith(".")]) == 4


def test_an_unfinished_entry_is_rebuilt(tokenizer, corpus, tmp_path):
    options = DatasetConfig(max_length=384)
    data = tokenise(corpus, options, tokenizer, cache_dir=tmp_path)
    (data.folder / "meta.json").unlink()  # as if the process died before the entry was finished
    again = tokenise(corpus, options, tokenizer, cache_dir=tmp_path)
    assert not again.cache_hit and again.meta["examples"] == data.meta["examples"]
