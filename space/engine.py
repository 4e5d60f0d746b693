"""The Space's model server: one base model loaded once on the engine ``choose_engine`` picks (the same
choice as ``python -m evaluation run --engine``), made once at start-up and kept.

- transformers: LoRA adapters attached on demand (LRU-bounded), both arena panes in ONE batched
  ``generate`` with per-row ``adapter_names``;
- llama.cpp (a CPU with llama-cpp-python and a GGUF base): the GGUF base in llama.cpp, one context per
  pane (space/llama_cpp_panes.py); the transformers model is not loaded at all, only its tokenizer.

``warm_up`` does the start-up work in the background (llama.cpp's base and contexts, the opening
adapters), so the first request pays nothing; ``status`` says where it stands. Tokens are split per row
as they are produced, so both answers stream at the same time. A lock keeps one Arena generation (and
any adapter loading) at a time; a stop event ends a generation early.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field

from codegen_lab import BASE_ADAPTER
from codegen_lab.hub import HubError
from codegen_lab.models import ModelLoadError, attach_adapters, load_base, resolve_model_path
from codegen_lab.prompts import SYSTEM_PROMPT, chat
from space.threaded_work import END, Report, stream_reports

MAX_PROMPT_CHARS = 8000
MAX_CONTEXT_TOKENS = 4096
MAX_NEW_TOKENS = 2048  # the most the Arena asks for in one answer


@dataclass
class GenerationSettings:
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0 = greedy
    system_prompt: str | None = SYSTEM_PROMPT


@dataclass
class StreamUpdate:
    """Everything produced so far, one entry per pane."""

    texts: list[str]
    n_tokens: list[int]
    done: list[bool]
    first_token_at: list[float | None] = field(default_factory=list)  # time.perf_counter() stamps


def cap_prompt(text: str, limit: int | None = None) -> tuple[str, str | None]:
    """The prompt cut to ``limit`` characters (MAX_PROMPT_CHARS), and a message saying so when it was cut."""
    limit = limit or MAX_PROMPT_CHARS
    if len(text) <= limit:
        return text, None
    return text[:limit], f"The prompt has {len(text):,} characters; only the first {limit:,} were sent."


def is_base(spec: str) -> bool:
    """The base model, no adapter: BASE_ADAPTER, or an empty pick."""
    return spec in ("", BASE_ADAPTER)


class _RowStreamer:
    """A ``generate`` streamer that reports each step's tokens (one per batch row)."""

    def __init__(self, report: Report):
        self.report = report
        self.seen_prompt = False

    def put(self, value) -> None:
        if not self.seen_prompt:  # the first call carries the prompt ids
            self.seen_prompt = True
            return
        self.report("tokens", value.reshape(-1).tolist())

    def end(self) -> None:
        pass


class Engine:
    """One base model plus a bounded cache of named LoRA adapters, shared by every session."""

    def __init__(
        self,
        base: str,
        *,
        max_adapters: int = 4,
        device: str | None = None,
        dtype=None,
        model=None,
        tokenizer=None,
        arena_engine: str = "transformers",
    ):
        from codegen_lab.llamacpp import choose_engine

        if max_adapters < 2:
            raise ValueError(f"max_adapters={max_adapters}: both panes need an adapter each, so at least 2.")
        self.base = base
        self.max_adapters = max_adapters
        self.engine, self.engine_why = choose_engine(arena_engine, base)  # never changed afterwards
        self.llama_cpp = None  # the panes on llama.cpp (space/llama_cpp_panes.py)
        if self.engine == "llama.cpp":
            own_tokenizer = self._llama_cpp_panes()
            tokenizer = tokenizer or own_tokenizer
        if model is None and self.engine == "transformers":
            model, tokenizer = load_base(base, device=device, dtype=dtype)
        # model: None on llama.cpp (unless given, as bench/ does)
        self.model, self.tokenizer = model, tokenizer
        self.tokenizer.padding_side = "left"
        self.adapters: OrderedDict[str, str] = OrderedDict()  # spec -> adapter name, least recent first
        self.pinned: Counter[str] = Counter()  # specs a benchmark run is using: never evicted meanwhile
        self._next_id = 0
        self.lock = threading.Lock()
        self.ready = threading.Event()  # set when ``warm_up`` is done (at once on transformers)
        self.warming = ""  # what the warm-up is doing now
        self.warm_errors: list[str] = []
        self._warm_thread: threading.Thread | None = None
        self._warm_lock = threading.Lock()
        if self.llama_cpp is None:
            eos = self.model.generation_config.eos_token_id
            self.eos_ids = set(
                eos if isinstance(eos, list) else [eos if eos is not None else tokenizer.eos_token_id]
            )
            self.ready.set()

    def _llama_cpp_panes(self):
        """The llama.cpp panes (loaded by ``warm_up``), the end-of-turn ids and the tokenizer; no torch model."""
        from transformers import AutoTokenizer, GenerationConfig

        from codegen_lab.llamacpp import base_gguf
        from evaluation.generate import end_of_turn_ids
        from space.llama_cpp_panes import LlamaCppPanes

        folder = resolve_model_path(self.base)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        config = (folder / "generation_config.json").is_file() and GenerationConfig.from_pretrained(folder)
        self.eos_ids = set(end_of_turn_ids(config or None, tokenizer))  # as `evaluation run` stops
        self.llama_cpp = LlamaCppPanes(
            base_gguf(self.base), folder, n_ctx=MAX_CONTEXT_TOKENS + MAX_NEW_TOKENS
        )
        return tokenizer

    # -- start-up ------------------------------------------------------------------------------
    def describe(self) -> str:
        """One sentence: the engine, why, and what is loaded (the page's header)."""
        if self.llama_cpp is not None:
            return (
                f"Engine: llama.cpp ({self.engine_why}): `{self.llama_cpp.gguf.name}`, one context per Arena "
                f"pane ({self.llama_cpp.threads} thread{'s' * (self.llama_cpp.threads > 1)} each); the "
                "transformers model is not loaded."
            )
        return f"Engine: transformers on `{self.model.device}` ({self.engine_why})."

    def warm_up(self, specs: list[str]) -> threading.Thread:
        """In the background: llama.cpp's base and pane contexts, then every adapter in ``specs`` converted
        and loaded (transformers: attached), so that the first request pays for none of it. Once: a
        second call returns the running (or finished) warm-up."""
        with self._warm_lock:
            if self._warm_thread is None:
                self.ready.clear()
                self._warm_thread = threading.Thread(
                    target=self._warm, args=(specs,), name="engine-warm-up", daemon=True
                )
                self._warm_thread.start()
            return self._warm_thread

    def _warm(self, specs: list[str]) -> None:
        try:
            if self.llama_cpp is not None and self.llama_cpp.model is None:
                self.warming = f"loading {self.llama_cpp.gguf.name} and a context per pane"
                with self.lock:
                    self.llama_cpp.load()
            adapters = [spec for spec in dict.fromkeys(specs) if not is_base(spec)]
            for n, spec in enumerate(adapters, 1):
                self.warming = f"preparing {spec} ({n}/{len(adapters)})"
                try:
                    if self.llama_cpp is not None:
                        self.llama_cpp.lora_of(spec)
                    else:
                        self.load_adapter(spec)
                except (ModelLoadError, HubError) as err:  # that pick shows the error; the rest works
                    self.warm_errors.append(str(err))
        except Exception as err:  # noqa: BLE001 -- shown in the page and raised by every request
            self.warm_errors.append(f"The engine could not start: {err}")
        finally:
            self.warming = ""
            self.ready.set()

    def status(self) -> tuple[bool, str]:
        """(ready, one line for the page): warming up, ready, or what went wrong while warming up."""
        if not self.ready.is_set():
            return False, f"**Warming up** ({self.warming or 'starting'}…): a send waits until it is done."
        if self.warm_errors:
            return True, "**Warm-up:** " + " ".join(self.warm_errors)
        return True, "**Ready.**"

    def wait_ready(self) -> None:
        """Block until the warm-up is done (starting it if nobody did); raise if it left no engine."""
        if not self.ready.is_set():
            self.warm_up([])
        self.ready.wait()
        if self.llama_cpp is not None and self.llama_cpp.model is None:
            raise ModelLoadError(" ".join(self.warm_errors) or "llama.cpp is not loaded.")

    # -- adapters -------------------------------------------------------------------------------
    def _adapter_name(self, spec: str, keep: set[str]) -> str:
        """The PEFT adapter name for ``spec``, loading it (and unloading the least recent) if needed.

        Call with the lock held. ``keep`` are the specs this request uses; they are never unloaded.
        """
        from peft import PeftModel

        if is_base(spec):
            return BASE_ADAPTER
        if self.llama_cpp is not None:  # converted to a GGUF LoRA and loaded onto the GGUF base
            self.llama_cpp.lora_of(spec)
            return spec
        if spec in self.adapters:
            self.adapters.move_to_end(spec)
            return self.adapters[spec]
        name = f"adapter{self._next_id}"
        self._next_id += 1
        try:
            self.model = attach_adapters(self.model, {name: spec})
        except ModelLoadError:
            if isinstance(self.model, PeftModel) and name in self.model.peft_config:
                self.model.delete_adapter(name)  # half-loaded (e.g. shapes of another base)
            raise
        self.adapters[spec] = name
        for old_spec in [s for s in self.adapters if s not in keep and not self.pinned[s]]:
            if len(self.adapters) <= self.max_adapters:
                break
            self.model.delete_adapter(self.adapters.pop(old_spec))
        return name

    def load_adapter(self, spec: str) -> str:
        """Attach ``spec`` now (raises ModelLoadError with the reason); returns its adapter name."""
        if self.llama_cpp is not None:  # llama.cpp's LoRAs are kept by the panes, under their own lock
            self.wait_ready()
            return self._adapter_name(spec, {spec})
        with self.lock:
            return self._adapter_name(spec, {spec})

    def locked_generate(self, **kwargs):
        """``model.generate`` under the engine's lock: how a benchmark shares the Arena's model, batch by batch
        (app.py wraps this with ``spaces.GPU`` on ZeroGPU, as it does ``stream``)."""
        from peft import PeftModel

        with self.lock:
            if isinstance(self.model, PeftModel) and "adapter_names" not in kwargs:  # attached meanwhile
                kwargs["adapter_names"] = [BASE_ADAPTER] * kwargs["input_ids"].shape[0]
            return self.model.generate(**kwargs)

    @contextlib.contextmanager
    def pinned_adapter(self, spec: str) -> Iterator[str]:
        """The adapter name of ``spec`` (BASE_ADAPTER for the base), kept attached while the block runs."""
        name = self.load_adapter(spec)
        self.pinned[spec] += 1
        try:
            yield name
        finally:
            self.pinned[spec] -= 1

    # -- prompts --------------------------------------------------------------------------------
    def build_messages(self, history: list[dict], prompt: str, system_prompt: str | None) -> list[dict]:
        """System prompt + as many recent turns as fit in MAX_CONTEXT_TOKENS + the new prompt."""
        turns = list(history)
        while True:
            messages = chat(system_prompt, prompt, turns)
            text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            n_ids = len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
            if n_ids <= MAX_CONTEXT_TOKENS or not turns:
                return messages
            turns = turns[2:]  # drop the oldest user/assistant pair

    # -- generation -----------------------------------------------------------------------------
    def stream(
        self,
        panes: list[tuple[str, list[dict]]],
        settings: GenerationSettings,
        stop: threading.Event | None = None,
    ) -> Iterator[StreamUpdate]:
        """Generate one answer per (adapter spec, messages) pane in one batch, yielding as tokens arrive.

        Raises ModelLoadError (or HubError) for an adapter that cannot be attached.
        """
        stop = stop or threading.Event()
        halt = threading.Event()  # set when this consumer goes away; ``stop`` stays the caller's
        reports = stream_reports(
            lambda report: self._generate(panes, settings, (stop, halt), report), halt, name="arena-generate"
        )
        n = len(panes)
        ids: list[list[int]] = [[] for _ in range(n)]
        texts, done = [""] * n, [False] * n
        first_at: list[float | None] = [None] * n
        with closing(reports):  # a consumer that goes away (closed tab, error) ends the generation
            for kind, step_tokens in reports:
                if kind == END:
                    texts = [self.tokenizer.decode(row, skip_special_tokens=True) for row in ids]
                    yield StreamUpdate(list(texts), [len(r) for r in ids], [True] * n, list(first_at))
                    return
                now = time.perf_counter()
                for row, token in enumerate(step_tokens):
                    if done[row] or token is None:  # None: the row had no token this step (llama.cpp)
                        continue
                    if token in self.eos_ids:
                        done[row] = True
                        continue
                    ids[row].append(token)
                    if first_at[row] is None:
                        first_at[row] = now
                    text = self.tokenizer.decode(ids[row], skip_special_tokens=True)
                    if not text.endswith("\ufffd"):  # wait for the rest of a multi-byte character
                        texts[row] = text
                yield StreamUpdate(list(texts), [len(r) for r in ids], list(done), list(first_at))

    def _generate(self, panes, settings: GenerationSettings, stops, report: Report) -> None:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                stopped = any(event.is_set() for event in stops)
                return torch.full((input_ids.shape[0],), stopped, dtype=torch.bool, device=input_ids.device)

        self.wait_ready()
        with self.lock:
            prompts = [
                self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
                for _, messages in panes
            ]
            if self.llama_cpp is not None:  # llama.cpp loads its own adapters: nothing to attach to ``model``
                return self._generate_llama_cpp(panes, prompts, settings, stops, report)
            specs = {spec for spec, _ in panes}
            names = [self._adapter_name(spec, specs) for spec, _ in panes]
            batch = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
            batch = batch.to(self.model.device)
            sampling = (
                {"do_sample": True, "temperature": settings.temperature, "top_p": 0.95}
                if settings.temperature > 0
                else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
            )
            extra = {"adapter_names": names} if self.adapters else {}
            with torch.inference_mode():
                self.model.generate(
                    **batch,
                    **sampling,
                    **extra,
                    max_new_tokens=settings.max_new_tokens,
                    pad_token_id=self.tokenizer.pad_token_id,
                    streamer=_RowStreamer(report),
                    stopping_criteria=StoppingCriteriaList([_Stop()]),
                )

    def _generate_llama_cpp(
        self, panes, prompts: list[str], settings: GenerationSettings, stops, report
    ) -> None:
        """The panes on llama.cpp, each on its own context with its adapter; call with the lock held."""
        loras = [None if is_base(spec) else self.llama_cpp.lora_of(spec) for spec, _ in panes]
        ids = [self.tokenizer(text, add_special_tokens=False)["input_ids"] for text in prompts]
        self.llama_cpp.generate(
            loras,
            ids,
            stop_ids=self.eos_ids,
            max_new_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            should_stop=lambda: any(event.is_set() for event in stops),
            report=report,
        )
