"""Resolve and load a base model with its tokenizer, and attach LoRA adapters to it by name.

A base model is a Hub id (``Qwen/Qwen2.5-Coder-1.5B-Instruct``, optionally ``@revision``), a local
folder, or an embedded alias (``embedded:smollm2``, ``embedded:qwen2.5-coder-1.5b``). An adapter is a local folder or
``repo_id@revision``. Several adapters share one base; ``"__base__"`` selects none of them.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from codegen_lab import EMBEDDED_ALIASES
from codegen_lab.hub import Hub, HubError
from codegen_lab.run_folder import ADAPTER_CONFIG


class ModelLoadError(ValueError):
    """A model or adapter name that cannot be loaded, with the reason."""


def pick_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


DTYPE_ENV = "CODEGEN_LAB_DTYPE"  # float32 | bfloat16 | float16 | auto (default)


def pick_dtype(device: str) -> torch.dtype:
    """bf16 where the hardware computes it natively, else fp16 on old GPUs and fp32 on old CPUs.

    ``CODEGEN_LAB_DTYPE`` overrides the choice (``float32`` runs the AVX2-only machines' path anywhere).
    """
    forced = os.environ.get(DTYPE_ENV, "auto")
    if forced != "auto":
        if forced not in ("float32", "bfloat16", "float16"):
            raise ModelLoadError(f"{DTYPE_ENV}={forced!r}: use float32, bfloat16, float16 or auto.")
        return getattr(torch, forced)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if _cpu_has_native_bf16() else torch.float32


def _cpu_has_native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def split_revision(name: str) -> tuple[str, str | None]:
    """``repo_id@revision`` -> (repo_id, revision); a plain name has no revision."""
    if "@" in name and not Path(name).exists():
        repo_id, revision = name.rsplit("@", 1)
        return repo_id, revision or None
    return name, None


def resolve_model_path(name: str, hub: Hub | None = None) -> Path:
    """A local folder for a base model name: the embedded alias, a folder, or a Hub repo."""
    if name.startswith("embedded:"):
        from codegen_lab.embedded import EmbeddedModelError, embedded_model_dir

        try:
            return embedded_model_dir(name)
        except EmbeddedModelError as err:
            raise ModelLoadError(str(err)) from err
    aliases = f"an embedded alias ({', '.join(EMBEDDED_ALIASES)}), "
    return folder_or_repo(
        name, "Base model", "config.json", f"a folder, {aliases}", "Qwen/Qwen2.5-Coder-1.5B-Instruct", hub
    )


def folder_or_repo(spec: str, what: str, marker: str, forms: str, example: str, hub: Hub | None) -> Path:
    """The local folder of ``spec``: a folder holding ``marker``, or ``repo_id[@revision]`` downloaded."""
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / marker).is_file():
            raise ModelLoadError(f"{what} folder {path} has no {marker}.")
        return path
    repo_id, revision = split_revision(spec)
    if repo_id.count("/") != 1:
        raise ModelLoadError(f"{what} {spec!r} is neither {forms}nor a Hub id like {example!r}.")
    try:
        folder = (hub or Hub.from_env()).download(repo_id, revision or "main")
    except HubError as err:
        raise ModelLoadError(str(err)) from err
    if not (folder / marker).is_file():
        raise ModelLoadError(f"{spec} holds no {what.lower()} (no {marker}).")
    return folder


def load_base(name: str, device: str | None = None, dtype: torch.dtype | None = None, hub: Hub | None = None):
    """(model, tokenizer) in eval mode on the chosen device; the tokenizer always has a pad token."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model_path(name, hub)
    device = device or pick_device()
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or pick_dtype(device)).to(device)
    model.get_output_embeddings().register_forward_pre_hook(_contiguous_input)
    model.eval()
    model.name_or_path = name
    return model, tokenizer


def _contiguous_input(module, args):
    """The LM head gets its last-token slice contiguous: on CPU a strided (batch, 1, hidden) input makes
    torch expand the whole vocabulary weight per row and copy it (seconds per prompt on a 1.5B model)."""
    return (args[0].contiguous(), *args[1:])


def resolve_adapter_path(spec: str, hub: Hub | None = None) -> Path:
    """A local folder with ``adapter_config.json`` for an adapter spec (folder or ``repo@revision``)."""
    return folder_or_repo(spec, "Adapter", ADAPTER_CONFIG, "a folder ", "user/repo@step-000100", hub)


def attach_adapters(model, adapters: dict[str, str], hub: Hub | None = None):
    """Load each adapter under its name onto ``model`` (a base or an existing PeftModel)."""
    from peft import PeftModel

    for name, spec in adapters.items():
        path = resolve_adapter_path(spec, hub)
        try:
            if isinstance(model, PeftModel):
                model.load_adapter(str(path), adapter_name=name)
            else:
                model = PeftModel.from_pretrained(model, str(path), adapter_name=name)
        except (RuntimeError, ValueError, KeyError) as err:
            raise ModelLoadError(
                f"Adapter {spec!r} does not fit base model {model.name_or_path!r}; it was probably trained on "
                f"another base ({type(err).__name__}: {str(err).splitlines()[0][:200]})."
            ) from err
    model.eval()
    return model


def load_model(
    base: str,
    adapters: dict[str, str] | None = None,
    device: str | None = None,
    hub: Hub | None = None,
    dtype: torch.dtype | None = None,
):
    """A base with any number of named adapters, ready for ``generate(..., adapter_names=[...])``."""
    model, tokenizer = load_base(base, device=device, dtype=dtype, hub=hub)
    if adapters:
        model = attach_adapters(model, adapters, hub=hub)
    return model, tokenizer
