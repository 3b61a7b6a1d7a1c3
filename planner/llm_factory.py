"""Build a chat model from a spec string, as the API and the CLI name them.

`local[:name|:path.gguf]`: the embedded llama.cpp model (default Gemma 3 270M, see `local_llm`).
`openai:<model>`: langchain-openai's ChatOpenAI; key from `OPENAI_API_KEY`; `base_url` (or
`OPENAI_BASE_URL`) points it at any OpenAI-compatible server (vLLM, Ollama, llama.cpp's server),
in which case a key is optional.
"""

from __future__ import annotations

import os
from typing import Any

from langchain_core.language_models import BaseChatModel

from planner.errors import LLMConfigError

SPEC_HELP = (
    "local (Gemma 3 270M, offline), local:smollm2, local:/path/model.gguf, "
    "or openai:<model> (with --base-url for any OpenAI-compatible server)"
)
DEFAULT_SPEC = "local"


def make_llm(
    spec: str, *, base_url: str | None = None, timeout: float = 60.0, **kwargs: Any
) -> BaseChatModel:
    """A `BaseChatModel` for `spec`; bad specs and missing keys raise `LLMConfigError`."""
    provider, _, model = spec.partition(":")
    if provider == "local":
        from planner.local_llm import make_local_llm

        return make_local_llm(model, **kwargs)
    if provider == "openai":
        return _openai(model, base_url, timeout, **kwargs)
    raise LLMConfigError(f"unknown LLM spec {spec!r}; expected {SPEC_HELP}")


def _openai(model: str, base_url: str | None, timeout: float, **kwargs: Any) -> BaseChatModel:
    if not model:
        raise LLMConfigError("give a model name: openai:<model>, e.g. openai:gpt-4o-mini")
    base_url = base_url or os.environ.get("OPENAI_BASE_URL")
    api_key = os.environ.get("OPENAI_API_KEY")
    if not api_key:
        if not base_url:
            raise LLMConfigError(
                "OPENAI_API_KEY is not set "
                "(or pass --base-url for a local OpenAI-compatible server)"
            )
        api_key = "not-needed"  # local servers accept any key
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=model,
        base_url=base_url,
        api_key=api_key,  # type: ignore[arg-type]
        timeout=timeout,
        max_retries=kwargs.pop("max_retries", 1),
        **kwargs,
    )
