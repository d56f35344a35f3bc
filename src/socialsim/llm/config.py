"""Typed configuration of one LLM backend (plain data; the backends do the work)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

StructuredMode = Literal["json_schema", "json_object", "none"]


class BackendConfig(BaseModel):
    """How to reach one model. The same fields serve every backend; each backend reads the ones it needs."""

    model_config = ConfigDict(extra="forbid")

    backend: str = Field("llamacpp", description="Registry name of the backend: 'llamacpp' or 'openai'.")
    model: str | None = Field(
        None,
        description="llamacpp: path of a GGUF file (unset = embedded SmolLM2-135M-Instruct Q4_1); "
        "openai: the model name the server expects.",
    )
    base_url: str | None = Field(None, description="openai: server URL ending in /v1, e.g. http://127.0.0.1:8000/v1.")
    api_key_env: str = Field(
        "OPENAI_API_KEY", description="openai: name of the environment variable holding the API key (optional)."
    )
    n_threads: int | None = Field(
        None, ge=1, description="llamacpp: CPU threads of one call (unset = number of cores, max 8, / parallel).")
    parallel: int | None = Field(
        None, ge=1, description="llamacpp: calls decoded at the same time, each on its own KV cache with n_threads "
        "threads (unset = 2 on a machine with 2 or more cores, else 1; two 1-thread decodes give ~1.5x the tokens/s "
        "of one 2-thread decode on a 2-core CPU).")
    n_ctx: int = Field(4096, ge=256, description="llamacpp: context window in tokens.")
    n_gpu_layers: int = Field(0, description="llamacpp: layers to offload to a GPU (-1 = all).")
    max_sessions: int = Field(
        4, ge=1, description="llamacpp: KV caches kept alive (one per dialogue role), so a new turn only "
        "evaluates new tokens."
    )
    max_concurrency: int = Field(8, ge=1, description="openai: most requests in flight to this endpoint.")
    requests_per_minute: float | None = Field(
        None, gt=0, description="openai: most requests per minute to this endpoint and model, spread evenly "
        "(unset = no limit; retries count)."
    )
    tokens_per_minute: float | None = Field(
        None, gt=0, description="openai: most tokens per minute to this endpoint and model, estimated before each "
        "call as prompt characters / 4 + max_tokens (unset = no limit)."
    )
    timeout_s: float = Field(120.0, gt=0, description="openai: timeout of one request in seconds.")
    max_retries: int = Field(5, ge=0, description="openai: retries on timeouts, connection errors, 429 and 5xx.")
    backoff_base_s: float = Field(0.5, gt=0, description="openai: first backoff (jittered, doubles each retry).")
    backoff_max_s: float = Field(30.0, gt=0, description="openai: longest single backoff.")
    structured_output: StructuredMode = Field(
        "json_schema",
        description="openai: how to request JSON: response_format json_schema, json_object (+schema), or "
        "none (prompt only; parsed and repaired all the same).",
    )
    extra_body: dict[str, object] = Field(
        default_factory=dict, description="openai: extra request fields for server-specific options."
    )
    temperature: float = Field(0.7, ge=0, description="Sampling temperature.")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling mass.")
    max_tokens: int = Field(256, ge=1, description="Default cap on generated tokens per call.")
    repeat_penalty: float = Field(1.1, ge=0, description="llamacpp: repetition penalty (1.0 = off).")
    seed: int = Field(0, description="Sampling seed (requests derive their own seeds from it).")

    @model_validator(mode="after")
    def _check_parallel(self) -> "BackendConfig":
        if self.parallel is not None and self.parallel > self.max_sessions:
            raise ValueError(f"parallel ({self.parallel}) needs at least as many KV caches: raise max_sessions "
                             f"({self.max_sessions})")
        return self
