"""The command line as a user meets it: help, version, config show, and one-line errors without tracebacks."""

import os
import subprocess
import sys

import pytest

from fault_server import FaultServer
from socialsim import __version__


def socialsim(*args, env=None, timeout=300):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "socialsim", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def test_version_and_help():
    assert socialsim("--version").stdout.strip() == f"socialsim {__version__}"
    out = socialsim("--help").stdout
    for word in ("config", "models", "--set", "--debug"):
        assert word in out


def test_config_show_prints_values_and_their_sources(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("llm:\n  temperature: 0.2\n")
    result = socialsim("--config", str(cfg), "--set", "llm.max_tokens=77", "config", "show",
                       env={"SOCIALSIM__LLM__SEED": "5"})
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "0.2" in lines["llm.temperature"] and f"file {cfg}" in lines["llm.temperature"]
    assert "77" in lines["llm.max_tokens"] and lines["llm.max_tokens"].endswith("flag")
    assert lines["llm.seed"].endswith("env SOCIALSIM__LLM__SEED")


def _assert_clean_error(result, *needles):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
    for needle in needles:
        assert needle in result.stderr


def test_unknown_config_key_is_one_clear_line(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("llm:\n  temprature: 0.2\n")
    _assert_clean_error(socialsim("--config", str(cfg), "config", "show"), "llm.temprature", "llm.temperature")


def test_wrong_model_path_is_one_clear_line():
    _assert_clean_error(socialsim("models", "check", "--model", "/nope/model.gguf"),
                        "model file not found: /nope/model.gguf", "hint:")


def test_a_file_that_is_not_a_model_is_reported(tmp_path):
    bogus = tmp_path / "bogus.gguf"
    bogus.write_text("not a model")
    _assert_clean_error(socialsim("models", "check", "--model", str(bogus)), "could not load")


def test_unreachable_server_is_one_clear_line():
    result = socialsim("--set", "roles.supporter.max_retries=1", "--set", "roles.supporter.backoff_base_s=0.01",
                       "models", "check", "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1",
                       "--model", "x")
    _assert_clean_error(result, "cannot connect", "server is running")


def test_bad_api_key_is_one_clear_line():
    with FaultServer([401]) as server:
        result = socialsim("models", "check", "--backend", "openai", "--base-url", server.base_url, "--model", "x",
                           env={"OPENAI_API_KEY": "sk-bad"})
    _assert_clean_error(result, "refused the API key", "OPENAI_API_KEY")
    assert "sk-bad" not in result.stderr + result.stdout


def test_debug_shows_the_traceback():
    result = socialsim("--debug", "models", "check", "--model", "/nope/model.gguf")
    assert result.returncode != 0 and "Traceback" in result.stderr


@pytest.mark.slow
def test_models_check_generates_with_the_embedded_model():
    result = socialsim("models", "check", "--max-tokens", "24")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in out
    reply = next(line for line in out.splitlines() if line.startswith("reply:"))
    assert len(reply.split()) > 2
    assert "tokens/s" in out and '"intensity"' in out


@pytest.mark.slow
def test_models_check_against_a_real_openai_compatible_server(llama_server):
    result = socialsim("models", "check", "--backend", "openai", "--base-url", llama_server, "--model", "smollm2",
                       "--max-tokens", "24")
    assert result.returncode == 0, result.stderr
    assert llama_server in result.stdout and '"intensity"' in result.stdout and "tokens/s" in result.stdout
