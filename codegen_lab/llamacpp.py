"""The llama.cpp engine: a GGUF base loaded once, GGUF LoRA adapters, and many sequences per context.

The CPU engine of the evaluation (``--engine llama.cpp|auto``), the Benchmark tab, the Arena and bench/.
llama.cpp reads the Q4_K weights at memory speed where transformers decodes dequantized bf16/fp32, an
order of magnitude faster on a CPU. One ``LlamaCppModel`` holds the weights (one mmap); each
``Context`` applies one adapter set (llama.cpp's unit) and decodes up to ``n_seq`` sequences in one
batch per step: every sequence ends at its own end-of-turn and its slot takes the next prompt (no
padding, no waiting for the longest answer).

    model = LlamaCppModel(base_gguf("embedded:qwen2.5-coder-1.5b"))
    context = model.context(n_seq=4, n_ctx_seq=2048, lora=adapter_gguf(folder, base_folder))
    context.generate([ids, ...], stop_ids={...}, max_new_tokens=1024, on_done=...)

Prompts are rendered and tokenized by the caller (the Hugging Face tokenizer and its chat template, so
both engines see the same ids); this module needs no transformers model.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codegen_lab.models import ModelLoadError

PACKAGE = "llama_cpp"  # llama-cpp-python's import name
REPACK_ENV = "CODEGEN_LAB_LLAMA_REPACK"  # on | off | auto (default: off only where AMX is present)
ENGINES = ("auto", "llama.cpp", "transformers")


def is_installed() -> bool:
    """llama-cpp-python importable (``make llama-cpp`` here; a Space builds it from requirements.txt).

    Its LoRA converter is found or fetched when an adapter is first converted (codegen_lab/gguf_lora.py).
    """
    return importlib.util.find_spec(PACKAGE) is not None


def base_gguf(base: str) -> Path | None:
    """The GGUF file of a base spec, or None when it has none: the one place a base becomes a GGUF.

    An embedded alias has its verified file; a local folder holding exactly one ``*.gguf`` has that one;
    a Hub id with a known official GGUF (``codegen_lab.hub_gguf``) has that file, downloaded and verified.
    """
    if base.startswith("embedded:"):
        from codegen_lab.embedded import EmbeddedModelError, gguf_path

        try:
            return gguf_path(base)
        except EmbeddedModelError as err:
            raise ModelLoadError(str(err)) from err
    folder = Path(base).expanduser()
    if folder.is_dir():
        files = sorted(folder.glob("*.gguf"))
        return files[0] if len(files) == 1 else None
    from codegen_lab.hub import HubError
    from codegen_lab.hub_gguf import HubGGUFError, hub_gguf

    try:
        return hub_gguf(base)
    except (HubError, HubGGUFError) as err:
        raise ModelLoadError(f"The GGUF of {base}: {err}") from err


def choose_engine(requested: str, base: str) -> tuple[str, str]:
    """(engine, why): ``auto`` is llama.cpp on a CPU when it is installed and the base has a GGUF,
    transformers on CUDA or otherwise. An explicit ``llama.cpp`` that cannot run is an error."""
    if requested not in ENGINES:
        raise ValueError(f"Engine {requested!r}: choose one of {', '.join(ENGINES)}.")
    if requested == "transformers":
        return requested, "asked for"
    if requested == "llama.cpp":
        from codegen_lab.hub_gguf import HUB_GGUFS

        if not is_installed():
            raise ModelLoadError("--engine llama.cpp needs llama-cpp-python: run `make llama-cpp` first.")
        if base_gguf(base) is None:
            raise ModelLoadError(
                f"--engine llama.cpp needs a GGUF base; {base!r} has no GGUF file (an embedded alias, a folder "
                "with one .gguf, or a Hub id with a known GGUF: " + ", ".join(HUB_GGUFS) + ")."
            )
        return requested, "asked for"
    import torch

    if torch.cuda.is_available():
        return "transformers", "auto: a CUDA GPU is present"
    if not is_installed():
        return (
            "transformers",
            "auto: llama-cpp-python is not installed (`make llama-cpp`: ~10x faster on CPU)",
        )
    if base_gguf(base) is None:
        return "transformers", f"auto: {base} has no GGUF file"
    return "llama.cpp", "auto: CPU, llama-cpp-python installed, the base has a GGUF"


def default_threads() -> int:
    """``OMP_NUM_THREADS`` where set (ggml's CPU threads are OpenMP's here), else the cores this process
    may use (``taskset``, cpusets).

    llama.cpp's threads meet at a barrier after every matmul: on cores shared with other work (tests on
    2 cores beside a judge, say) a thread more than the process's share of cores stalls them all.
    """
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else len(os.sched_getaffinity(0))


def has_amx() -> bool:
    try:
        return "amx_int8" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def repacking() -> bool:
    """Whether weights load in llama.cpp's repacked CPU layouts (interleaved Q4_K blocks for its GEMM kernels):
    the evaluation's default; the Arena asks for ``prefill_first()`` instead.

    Off where AMX is present: there the repacked buffers route matmuls to ggml's AMX kernels, and 0.3.36
    crashes in the first decode (SIGSEGV in ggml_backend_amx_mul_mat; reproduced on an AMX Xeon with the
    Qwen Q4_K_M base). Elsewhere on: measured on an AMD EPYC (AVX-512-BF16, 2 threads, bench/
    llama_cpp_engine.py), decoding with 4 sequences per context ran 25.1 tokens/s repacked against 20.2
    plain. ``CODEGEN_LAB_LLAMA_REPACK=on|off`` overrides.
    """
    forced = os.environ.get(REPACK_ENV, "auto")
    if forced not in ("on", "off", "auto"):
        raise ModelLoadError(f"{REPACK_ENV}={forced!r}: use on, off or auto.")
    return forced == "on" if forced != "auto" else not has_amx()


def prefill_first() -> bool:
    """The layout for a chat, where the first token waits on the prompt: plain (not repacked) unless
    ``CODEGEN_LAB_LLAMA_REPACK`` says otherwise. Measured on the same EPYC, a 407-token prompt's first
    token took 1.55 s plain against 2.88 s repacked (bench/llama_cpp_engine.py (d))."""
    return repacking() if os.environ.get(REPACK_ENV, "auto") != "auto" else False


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """llama.cpp logs to stderr from C; keep it quiet like ``Llama(verbose=False)``.

    Its log callback prints errors only from here on (a context's teardown warns about its compute
    buffer size, ``~llama_context: ...``, long after any ``with`` block); while loading, whatever the C
    code prints on its own is dropped too.
    """
    from llama_cpp._logger import set_verbose
    from llama_cpp._utils import suppress_stdout_stderr

    set_verbose(False)
    with suppress_stdout_stderr(disable=False):
        yield


class LlamaCppModel:
    """A GGUF model loaded once (memory-mapped) with its LoRA adapters; contexts are made from it."""

    def __init__(self, gguf: Path, *, threads: int | None = None, repack: bool | None = None):
        import llama_cpp
        from llama_cpp import _internals

        self.gguf = Path(gguf)
        self.threads = threads or default_threads()
        self.repack = repacking() if repack is None else repack
        params = llama_cpp.llama_model_default_params()
        params.use_extra_bufts = self.repack
        with _quiet():
            self.model = _internals.LlamaModel(path_model=str(self.gguf), params=params, verbose=False)
        self.vocab = llama_cpp.llama_model_get_vocab(self.model.model)
        self.adapters: dict[Path, object] = {}
        self.lock = threading.Lock()  # adapters are loaded once, whichever thread asks first

    def is_end_of_generation(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, token))

    def lora(self, path: Path):
        """The loaded GGUF LoRA at ``path`` (loaded on first use, kept with the model)."""
        import llama_cpp

        with self.lock:
            if path not in self.adapters:
                with _quiet():
                    adapter = llama_cpp.llama_adapter_lora_init(self.model.model, str(path).encode())
                if adapter is None:
                    raise ModelLoadError(f"llama.cpp could not load the LoRA {path} onto {self.gguf.name}.")
                self.model._exit_stack.callback(llama_cpp.llama_adapter_lora_free, adapter)
                self.adapters[path] = adapter
            return self.adapters[path]

    def context(
        self, *, n_seq: int = 1, n_ctx_seq: int = 2048, lora: Path | None = None, threads: int | None = None
    ) -> Context:
        """A context of ``n_seq`` sequences of up to ``n_ctx_seq`` tokens each, with ``lora`` applied."""
        return Context(self, n_seq=n_seq, n_ctx_seq=n_ctx_seq, lora=lora, threads=threads or self.threads)


@dataclass
class Sampling:
    """Greedy at temperature 0, else temperature and top-p (no top-k, no repetition penalty)."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0


@dataclass
class Slot:
    """One sequence being decoded: which request it answers and the tokens so far."""

    request: int
    seq_id: int
    sampler: object
    position: int
    tokens: list[int] = field(default_factory=list)
    last: int = -1


class Context:
    """One llama.cpp context: one adapter set, ``n_seq`` sequences decoded together."""

    N_BATCH = 512  # prompt tokens per decode call

    def __init__(self, model: LlamaCppModel, *, n_seq: int, n_ctx_seq: int, lora: Path | None, threads: int):
        import llama_cpp
        from llama_cpp import _internals

        self.model, self.n_seq, self.n_ctx_seq = model, n_seq, n_ctx_seq
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_seq * n_ctx_seq
        params.n_batch = params.n_ubatch = self.N_BATCH
        params.n_seq_max = n_seq
        params.kv_unified = False  # each sequence attends its own cells only
        params.n_threads = params.n_threads_batch = threads
        params.no_perf = True
        with _quiet():
            self.ctx = _internals.LlamaContext(model=model.model, params=params, verbose=False)
        self.batch = _internals.LlamaBatch(
            n_tokens=max(self.N_BATCH, n_seq), embd=0, n_seq_max=1, verbose=False
        )
        self.lora: Path | None = None
        if lora is not None:
            self.use_lora(lora)

    def use_lora(self, lora: Path | None) -> None:
        """Decode with ``lora`` (None: the bare base) from now on; the same context serves any adapter."""
        import ctypes

        import llama_cpp

        if lora == self.lora:
            return
        adapters = (
            None if lora is None else (llama_cpp.llama_adapter_lora_p_ctypes * 1)(self.model.lora(lora))
        )
        scales = None if lora is None else (ctypes.c_float * 1)(1.0)
        if llama_cpp.llama_set_adapters_lora(self.ctx.ctx, adapters, 0 if lora is None else 1, scales):
            raise ModelLoadError(f"llama.cpp could not apply the LoRA {lora}.")
        self.lora = lora

    def set_threads(self, threads: int) -> None:
        self.ctx.set_n_threads(threads, threads)

    def close(self) -> None:
        """Free the context's memory now (the model would keep it until it is freed itself)."""
        self.ctx.close()
        self.batch.close()

    def _sampler(self, sampling: Sampling, stream: int):
        from llama_cpp import _internals

        sampler = _internals.LlamaSampler()
        if sampling.temperature <= 0:
            sampler.add_greedy()
        else:
            if sampling.top_p < 1:
                sampler.add_top_p(sampling.top_p, 1)
            sampler.add_temp(sampling.temperature)
            sampler.add_dist(sampling.seed + stream)  # each sample its own stream, reproducibly
        return sampler

    def _add(self, token: int, position: int, seq_id: int, logits: bool) -> None:
        batch = self.batch.batch
        i = batch.n_tokens
        batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, position, 1, logits
        batch.seq_id[i][0] = seq_id
        batch.n_tokens = i + 1

    def _prefill(self, seq_id: int, ids: Sequence[int]) -> None:
        """The prompt into ``seq_id``'s cache, in chunks; the last token's logits are kept (index 0)."""
        for start in range(0, len(ids), self.N_BATCH):
            chunk = ids[start : start + self.N_BATCH]
            self.batch.reset()
            for offset, token in enumerate(chunk):
                self._add(token, start + offset, seq_id, False)
            self.batch.batch.logits[len(chunk) - 1] = start + len(chunk) == len(ids)
            self.ctx.decode(self.batch)

    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        *,
        stop_ids: set[int],
        max_new_tokens: int,
        sampling: Sampling = Sampling(),
        streams: Sequence[int] | None = None,
        on_token: Callable[[int, int], None] | None = None,
        on_done: Callable[[int, list[int]], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[list[int] | None]:
        """The generated ids of every prompt (stop token excluded), prompts taken in order.

        Up to ``n_seq`` prompts decode together; a finished sequence frees its slot for the next prompt.
        ``streams[i]`` numbers prompt i's random stream (sampling only; default i). ``on_token(i, token)``
        sees each token (the stop token too), ``on_done(i, ids)`` each finished answer. ``should_stop()``
        ends early, leaving None for unfinished prompts.
        """
        too_long = [i for i, ids in enumerate(prompts) if len(ids) + max_new_tokens > self.n_ctx_seq]
        if too_long:
            raise ValueError(
                f"Prompt {too_long[0]} has {len(prompts[too_long[0]])} tokens; with {max_new_tokens} new tokens it "
                f"exceeds the context's {self.n_ctx_seq} per sequence."
            )
        results: list[list[int] | None] = [None] * len(prompts)
        pending = iter(range(len(prompts)))
        free = list(range(self.n_seq - 1, -1, -1))
        active: list[Slot] = []

        def report(slot: Slot) -> None:
            if on_token is not None:
                on_token(slot.request, slot.last)
            if slot.last in stop_ids or len(slot.tokens) >= max_new_tokens:
                active.remove(slot)
                free.append(slot.seq_id)
                self.ctx.kv_cache_seq_rm(slot.seq_id, -1, -1)
                results[slot.request] = [t for t in slot.tokens if t not in stop_ids]
                if on_done is not None:
                    on_done(slot.request, results[slot.request])

        try:
            while should_stop is None or not should_stop():
                while free and (request := next(pending, None)) is not None:
                    active.append(self._start(request, prompts[request], free.pop(), sampling, streams))
                    report(active[-1])
                if not active:
                    break
                for slot in self._step(active):
                    report(slot)
        finally:
            self.ctx.kv_cache_clear()
        return results

    def _start(self, request: int, ids: Sequence[int], seq_id: int, sampling: Sampling, streams) -> Slot:
        self._prefill(seq_id, ids)
        sampler = self._sampler(sampling, request if streams is None else streams[request])
        slot = Slot(request, seq_id, sampler, len(ids))
        self._take(slot, sampler.sample(self.ctx, self.batch.n_tokens() - 1))
        return slot

    def _take(self, slot: Slot, token: int) -> None:
        slot.sampler.accept(token)
        slot.tokens.append(token)
        slot.last = token

    def _step(self, active: list[Slot]) -> list[Slot]:
        """One decoding step: every active sequence's last token in one batch, one new token each."""
        self.batch.reset()
        for slot in active:
            self._add(slot.last, slot.position, slot.seq_id, True)
            slot.position += 1
        self.ctx.decode(self.batch)
        stepped = list(active)
        for index, slot in enumerate(stepped):
            self._take(slot, slot.sampler.sample(self.ctx, index))
        return stepped
