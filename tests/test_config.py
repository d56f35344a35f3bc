import pytest

from socialsim.config import describe_config, load_config, parse_assignment
from socialsim.errors import ConfigError


def test_defaults_use_the_embedded_llamacpp_backend_for_every_role():
    loaded = load_config(env={})
    for role in ("extractor", "seeker", "supporter", "judge", "chatbot"):
        cfg = loaded.config.backend_for(role)
        assert cfg.backend == "llamacpp" and cfg.model is None


def test_unknown_yaml_key_is_an_error_naming_key_file_and_suggestion(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("llm:\n  modle: foo.gguf\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert "llm.modle" in err.value.message and str(path) in err.value.message
    assert "llm.model" in err.value.hint


def test_unknown_top_level_section_is_rejected(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("simulaton:\n  turns: 3\n")
    with pytest.raises(ConfigError, match="simulaton"):
        load_config(path, env={})


def test_unknown_key_in_environment_is_rejected():
    with pytest.raises(ConfigError, match="env SOCIALSIM__LLM__TEMPRATURE"):
        load_config(env={"SOCIALSIM__LLM__TEMPRATURE": "0.2"})


def test_layers_override_in_order_and_sources_are_reported(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("llm:\n  temperature: 0.1\n  max_tokens: 50\n  top_p: 0.5\n")
    env = {"SOCIALSIM__LLM__MAX_TOKENS": "60", "SOCIALSIM__LLM__TOP_P": "0.6"}
    loaded = load_config(path, env=env, overrides={"llm.top_p": 0.7})
    llm = loaded.config.llm
    assert (llm.temperature, llm.max_tokens, llm.top_p) == (0.1, 60, 0.7)
    sources = {k: s for k, _, s in describe_config(loaded)}
    assert sources["llm.temperature"] == f"file {path}"
    assert sources["llm.max_tokens"] == "env SOCIALSIM__LLM__MAX_TOKENS"
    assert sources["llm.top_p"] == "flag"
    assert sources["llm.seed"] == "default"


def test_role_overrides_resolve_over_the_default_backend():
    loaded = load_config(env={}, overrides={
        "roles.judge.backend": "openai", "roles.judge.base_url": "http://127.0.0.1:9/v1", "roles.judge.model": "m"})
    judge, seeker = loaded.config.backend_for("judge"), loaded.config.backend_for("seeker")
    assert judge.backend == "openai" and judge.base_url == "http://127.0.0.1:9/v1"
    assert seeker.backend == "llamacpp"


def test_bad_role_override_key_is_rejected_at_load_time():
    with pytest.raises(ConfigError, match="base_ulr"):
        load_config(env={}, overrides={"roles.judge.base_ulr": "http://x"})


def test_invalid_value_names_the_key_and_its_source(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("llm:\n  temperature: hot\n")
    with pytest.raises(ConfigError, match=r"llm.temperature.*file"):
        load_config(path, env={})


def test_malformed_yaml_names_line_and_column(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("llm:\n  model: [unclosed\n")
    with pytest.raises(ConfigError, match=r"line \d+, column \d+"):
        load_config(path, env={})


def test_set_assignment_parses_yaml_scalars():
    assert parse_assignment("llm.temperature=0.3") == ("llm.temperature", 0.3)
    assert parse_assignment("cache.enabled=false") == ("cache.enabled", False)
    with pytest.raises(ConfigError):
        parse_assignment("no-equals-sign")


def test_a_key_of_another_backend_is_an_error_naming_both(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(env={}, overrides={"roles.judge.backend": "openai", "roles.judge.base_url": "http://x/v1",
                                       "roles.judge.model": "m", "roles.judge.n_threads": 4})
    assert "roles.judge.n_threads" in err.value.message and "'openai'" in err.value.message
    assert "llamacpp" in err.value.hint
    path = tmp_path / "c.yaml"
    path.write_text("llm:\n  base_url: http://127.0.0.1:8000/v1\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert "llm.base_url" in err.value.message and str(path) in err.value.message and "openai" in err.value.hint


def test_a_role_on_another_backend_inherits_only_the_shared_sampling_keys():
    loaded = load_config(env={}, overrides={"llm.n_threads": 2, "llm.temperature": 0.3, "llm.model": "x.gguf",
                                            "roles.judge.backend": "openai", "roles.judge.base_url": "http://x/v1",
                                            "roles.judge.model": "gpt"})
    judge = loaded.config.backend_for("judge")
    assert judge.backend == "openai" and judge.temperature == 0.3 and judge.model == "gpt"
    assert loaded.config.backend_for("seeker").n_threads == 2


def test_the_request_cache_key_covers_the_server_and_its_extra_body():
    from socialsim.llm.cache import request_key
    from socialsim.llm.config import OpenAISettings
    from socialsim.llm.openai_compat import OpenAIBackend
    from socialsim.llm.types import ChatRequest

    request = ChatRequest([{"role": "user", "content": "hi"}])

    def key(**settings) -> str:
        backend = OpenAIBackend(OpenAISettings(model="same-model", **settings))
        return request_key(backend.cache_identity(), request)

    a = key(base_url="http://server-a/v1")
    assert a == key(base_url="http://server-a/v1", max_concurrency=64, timeout_s=5)  # speed settings: same reply
    assert a != key(base_url="http://server-b/v1")
    assert a != key(base_url="http://server-a/v1", extra_body={"repetition_penalty": 1.2})
