"""Issue 18 beyond the fuzz matrix: failures that must not read as success, the one record-size limit, property
tests of the corpus readers (hypothesis), and the bounded-memory statistics."""

import json
import random
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_backend import SimScript
from socialsim.corpus.jsonl import DEFAULT_MAX_RECORD_BYTES, iter_lines, max_record_bytes, set_max_record_bytes
from socialsim.corpus.readers import read_corpus
from socialsim.errors import InputFileError
from socialsim.evaluation.judgements import load_judgements
from socialsim.evaluation.stats import corpus_stats, summary_rows
from socialsim.llm.registry import register_backend
from socialsim.metrics.distinct import NgramDiversity, distinct_n
from socialsim.metrics.tokenize import _treebank, tokens
from test_fuzz_inputs import CORRECT, KINDS, VALID, Command, prepare, run_cli, snapshot
from test_simulation_loop import make_profile
from webapp_data import synthetic_dialogue

register_backend("sim-script", SimScript)
DYING = ["--set", "llm.backend=sim-script", "--set", "cache.enabled=false"]


@pytest.fixture
def limit():
    """Restores the process-wide record-size limit a test changes."""
    yield
    set_max_record_bytes(DEFAULT_MAX_RECORD_BYTES)


def test_simulate_exits_2_naming_the_first_cause_and_the_failures_file(tmp_path, monkeypatch):
    bank = tmp_path / "bank.jsonl"
    bank.write_text("".join(make_profile(i).model_dump_json() + "\n" for i in range(2)))
    monkeypatch.setenv("SIM_SCRIPT_DIE", "1")  # the backend fails every call
    run = run_cli([*DYING, "--set", "simulation.dialogue_retries=0", "simulate", "--personas", str(bank), "--out",
                   str(tmp_path / "run"), "-n", "1", "--no-progress"], tmp_path)
    assert run.crash is None and run.code == 2, (run.code, run.stderr)
    error, hint = run.stderr.strip().splitlines()
    assert "1 dialogue(s) failed for good" in error and "connection to the model server lost" in error
    assert str(tmp_path / "run" / "failures.jsonl") in hint
    assert "0/1 finished" in run.stdout
    failures = [json.loads(line) for line in (tmp_path / "run" / "failures.jsonl").read_text().splitlines()]
    assert [f["id"] for f in failures] == ["p0-0"]


def test_personas_build_exits_2_naming_the_first_cause_and_the_failures_file(tmp_path, monkeypatch):
    posts = tmp_path / "posts.jsonl"
    posts.write_bytes(VALID["posts"])
    monkeypatch.setenv("SIM_SCRIPT_DIE", "1")
    run = run_cli([*DYING, "personas", "build", "--source", f"posts:{posts}", "--out", str(tmp_path / "bank.jsonl"),
                   "--no-progress"], tmp_path)
    assert run.crash is None and run.code == 2, (run.code, run.stderr)
    error, hint = run.stderr.strip().splitlines()
    assert "2 record(s) failed for good" in error and "connection to the model server lost" in error
    assert str(tmp_path / "bank.failures.jsonl") in hint


def test_the_record_size_limit_is_one_setting_with_a_clear_error(tmp_path, limit):
    """input.max_record_bytes holds for every reader: corpora, persona banks, predictions, judgements."""
    for kind, command in (("corpus", ["stats"]), ("bank", ["personas", "stats"]), ("predictions", ["score"]),
                          ("judgements", None)):
        path = tmp_path / f"{kind}.jsonl"
        path.write_bytes(VALID[kind])
        longest = max(len(line) for line in VALID[kind].splitlines())  # bytes of a record, newline left out
        if command is None:  # judgements: read by `serve --judge` and `annotate export --judge`
            set_max_record_bytes(longest - 1)
            with pytest.raises(InputFileError, match=f"column {longest}: record larger than"):
                load_judgements([path])
            set_max_record_bytes(longest)
            assert load_judgements([path]).scores
            continue
        run = run_cli(["--set", f"input.max_record_bytes={longest - 1}", *command, str(path)], tmp_path)
        assert run.code == 2, run.stderr
        error, hint = run.stderr.strip().splitlines()
        assert error.startswith(f"error: {path}, line ") and f"record larger than {longest - 1:,} bytes" in error
        assert "input.max_record_bytes" in hint
        assert run_cli(["--set", f"input.max_record_bytes={longest}", *command, str(path)], tmp_path).code == 0
        assert max_record_bytes() == longest


def test_a_huge_utterance_is_tokenised_in_pieces_that_never_hit_nltks_regex_timeout(monkeypatch):
    """NLTK runs each regex under a wall-clock timeout (5 s): a 50 MB utterance used to crash stats with a
    TimeoutError. Here the timeout is 0.3 s and the utterance 4 MB, which one regex pass cannot do in time."""
    from nltk import redos

    text = "I feel so tired, and nobody (really) listens. " * 90_000
    whole = _treebank().tokenize(text.lower())  # one pass, under the usual 5 s timeout
    monkeypatch.setattr(redos, "DEFAULT_TIMEOUT", 0.3)
    assert tokens(text) == whole


# -- hypothesis: the corpus readers ---------------------------------------------------------------------------

_TURN = st.fixed_dictionaries({"speaker": st.sampled_from(["seeker", "supporter", "narrator", 3]),
                               "text": st.one_of(st.text(max_size=40), st.integers(), st.none())})
_RECORD = st.one_of(
    st.fixed_dictionaries({"id": st.one_of(st.text(max_size=8), st.integers()), "turns": st.lists(_TURN, max_size=4)}),
    st.fixed_dictionaries({"dialog": st.lists(st.fixed_dictionaries(
        {"speaker": st.sampled_from(["usr", "sys"]), "text": st.one_of(st.text(max_size=20), st.integers())}),
        max_size=3)}),
    st.fixed_dictionaries({"messages": st.lists(st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "system", "tool"]),
         "content": st.one_of(st.text(max_size=20), st.lists(st.integers(), max_size=2))}), max_size=3)}),
    st.dictionaries(st.text(max_size=6), st.one_of(st.integers(), st.text(max_size=6)), max_size=3),
)
_LINE = st.one_of(_RECORD.map(lambda r: json.dumps(r).encode()), st.binary(max_size=60),
                  st.sampled_from([b"", b"   ", b"[1, 2]", b'"text"', b"{", b"\xef\xbb\xbf{}", b"null"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_LINE, max_size=6), crlf=st.booleans(), bom=st.booleans(), cut=st.integers(0, 8))
def test_corpus_readers_give_dialogues_or_one_clear_error(tmp_path, lines, crlf, bom, cut):
    """Any bytes at all: the readers yield dialogues or raise InputFileError naming the file, nothing else."""
    data = (b"\r\n" if crlf else b"\n").join(lines)
    data = (b"\xef\xbb\xbf" if bom else b"") + (data[:-cut] if cut and len(data) > cut else data)
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(data)
    for fmt in ("auto", "socialsim", "esconv", "messages", "socialsim_release"):
        try:
            for dialogue in read_corpus(path, fmt):
                assert isinstance(dialogue.id, str)
        except InputFileError as exc:
            assert exc.message.startswith(str(path)) and "\n" not in exc.message
    assert path.read_bytes() == data


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(st.dictionaries(st.text(max_size=5), st.integers(), max_size=3), min_size=1, max_size=5),
       endings=st.sampled_from([b"\n", b"\r\n"]), bom=st.booleans(), blank=st.booleans())
def test_line_reader_round_trips_any_valid_jsonl(tmp_path, records, endings, bom, blank):
    lines = [json.dumps(r).encode() for r in records]
    if blank:
        lines.insert(1, b"  ")
    path = tmp_path / "x.jsonl"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + endings.join(lines) + endings)
    assert [line.record for line in iter_lines(path)] == records


# -- bounded-memory statistics ---------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(utterances=st.lists(st.lists(st.sampled_from(list(string.ascii_lowercase[:6])), max_size=12), max_size=40))
def test_streaming_distinct_n_is_exact_below_its_limit(utterances):
    counter = NgramDiversity(batch_tokens=16)
    for toks in utterances:
        counter.add(toks)
    for n in (1, 2, 3):
        assert counter.distinct(n) == pytest.approx(distinct_n(utterances, n))
    assert not counter.estimated


def test_streaming_distinct_n_past_its_limit_is_a_close_estimate():
    rng = random.Random(0)
    words = [f"w{i}" for i in range(400)]
    utterances = [[rng.choice(words) for _ in range(rng.randint(1, 30))] for _ in range(8000)]
    counter = NgramDiversity(exact_limit=5000, batch_tokens=4096)
    for toks in utterances:
        counter.add(toks)
    assert counter.estimated
    for n in (2, 3):
        assert counter.distinct(n) == pytest.approx(distinct_n(utterances, n), rel=0.02)


def test_corpus_stats_are_the_same_streamed_or_from_a_list():
    rng = random.Random(3)
    dialogues = [synthetic_dialogue(i, rng, turns=6) for i in range(30)]
    streamed = summary_rows([corpus_stats("c", iter(dialogues))])
    assert streamed == summary_rows([corpus_stats("c", dialogues)])
    rows = dict((r[0], r[1]) for r in streamed)
    assert rows["dialogues"] == "30" and not rows["Distinct-2 (all)"].startswith("~")


def test_an_output_linked_to_the_input_is_refused_before_any_work(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_bytes(VALID["corpus"])
    (tmp_path / "hard.jsonl").hardlink_to(corpus)
    (tmp_path / "soft.jsonl").symlink_to(corpus)
    for link in ("hard.jsonl", "soft.jsonl"):
        run = run_cli(["filter", str(corpus), str(tmp_path / link)], tmp_path)
        assert run.code == 2 and "is also an input" in run.stderr, run.stderr
    assert corpus.read_bytes() == VALID["corpus"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.jsonl", "hard.jsonl", "soft.jsonl"]


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("in_is_out", "out_wrong_kind")])
def test_the_web_apps_corpus_index_gives_one_clear_error_and_leaves_nothing(kind, tmp_path):
    """What `socialsim serve --corpus` reads (the index is cached in a folder beside the database)."""
    from socialsim.webapp.app import build

    huge = tmp_path / "huge.jsonl"  # over the 1 MiB record limit
    huge.write_bytes(b'{"id": "x", "turns": [{"speaker": "seeker", "text": "' + b"a " * (1 << 20) + b'"}]}\n')
    folder = tmp_path / "case"
    prepare(Command("serve", "corpus", ("IN",)), kind, folder, huge)
    before = snapshot(folder)
    state = folder / "state"
    if kind in CORRECT:
        app = build([folder / "in.jsonl"], state / "db.sqlite", index_cache=state / "index")
        assert app.state.index.corpora[0].size == 4
    else:
        with pytest.raises(InputFileError) as error:
            build([folder / "in.jsonl"], state / "db.sqlite", index_cache=state / "index")
        assert "in.jsonl" in error.value.message and "\n" not in error.value.message
        assert snapshot(folder) == before  # no index, no database, no folder
