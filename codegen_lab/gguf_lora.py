"""PEFT adapters as GGUF LoRAs for llama.cpp, converted once by llama.cpp's own converter and cached.

The converter (``convert_lora_to_gguf.py``, with gguf-py) ships in llama-cpp-python's source package, not in
its wheel. ``make llama-cpp`` keeps the source it built from in .venv/src; where only the installed package
exists (a Space builds it in a temporary folder) the same release's source package is fetched once from the
package index (PyPI's JSON API, ``CODEGEN_LAB_PYPI`` to point elsewhere), checked against the index's
SHA-256, and only its converters and the packages they import (gguf-py, conversion) are kept in the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

from codegen_lab.models import ModelLoadError
from codegen_lab.paths import REPO_ROOT

CONVERTER = "convert_lora_to_gguf.py"
LLAMA_CPP_SOURCE = Path(
    os.environ.get(
        "LLAMA_CPP_SOURCE", REPO_ROOT / ".venv" / "src" / "llama_cpp_python" / "vendor" / "llama.cpp"
    )
)
PACKAGES = ("gguf-py", "conversion")  # what the converters import beside themselves
PYPI_ENV = "CODEGEN_LAB_PYPI"


def adapter_gguf(adapter: Path, base_folder: Path) -> Path:
    """The PEFT adapter as a GGUF LoRA, converted once per weights file (written aside, then renamed)."""
    from codegen_lab.embedded import cache_root

    weights = adapter / "adapter_model.safetensors"
    if not weights.is_file():
        raise ModelLoadError(f"Adapter {adapter} has no adapter_model.safetensors to convert for llama.cpp.")
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    target = cache_root() / "llama-cpp" / f"{adapter.name}-{digest}.gguf"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.stem}.partial-{os.getpid()}")
    command = [sys.executable, str(converter_source() / CONVERTER), "--base", str(base_folder)]
    done = subprocess.run(
        [*command, "--outtype", "f32", "--outfile", str(partial), str(adapter)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelLoadError(f"Adapter {adapter}: llama.cpp could not convert it to GGUF ({reason}).")
    os.replace(partial, target)
    return target


def converter_source() -> Path:
    """The folder holding llama.cpp's converters for the installed llama-cpp-python release."""
    if (LLAMA_CPP_SOURCE / CONVERTER).exists():
        return LLAMA_CPP_SOURCE
    from importlib.metadata import version

    from codegen_lab.embedded import cache_root

    release = version("llama_cpp_python")
    target = cache_root() / "llama-cpp" / f"converters-{release}"
    if not (target / CONVERTER).exists():
        with tempfile.TemporaryDirectory() as folder:
            unpack_converters(fetch_source_package(release, Path(folder)), target)
    return target


def fetch_source_package(release: str, folder: Path) -> Path:
    """llama-cpp-python ``release``'s source package from the index into ``folder``, its SHA-256 checked."""
    index = os.environ.get(PYPI_ENV, "https://pypi.org").rstrip("/")
    where = f"{index}/pypi/llama-cpp-python/{release}/json"
    try:
        with urllib.request.urlopen(where, timeout=60) as reply:
            files = json.load(reply)["urls"]
        (source,) = [f for f in files if f["packagetype"] == "sdist"]
        path = folder / source["filename"]
        with urllib.request.urlopen(source["url"], timeout=600) as reply, path.open("wb") as out:
            shutil.copyfileobj(reply, out)
    except (OSError, ValueError, KeyError) as err:
        raise ModelLoadError(
            f"llama.cpp's LoRA converter is not installed and llama-cpp-python {release}'s source package "
            f"could not be fetched from {where} ({err}): run `make llama-cpp`, or set LLAMA_CPP_SOURCE."
        ) from err
    from codegen_lab.embedded import sha256_file

    if sha256_file(path, f"verify {path.name}") != source["digests"]["sha256"]:
        raise ModelLoadError(f"{source['url']} does not match the SHA-256 its index gives; not used.")
    return path


def unpack_converters(source_package: Path, target: Path) -> None:
    """The converters and their packages from a llama-cpp-python source package into ``target``, whole or not at all."""
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    with tarfile.open(source_package) as archive:
        for member in archive.getmembers():
            parts = Path(member.name).parts
            inner = Path(*parts[3:]) if parts[1:3] == ("vendor", "llama.cpp") and len(parts) > 3 else None
            converter = inner is not None and len(inner.parts) == 1 and inner.name.startswith("convert_")
            if member.isfile() and inner is not None and (converter or inner.parts[0] in PACKAGES):
                member.name = str(inner)
                archive.extract(member, partial, filter="data")
    if not (partial / CONVERTER).exists():
        shutil.rmtree(partial, ignore_errors=True)
        raise ModelLoadError(f"{source_package} holds no vendor/llama.cpp/{CONVERTER}.")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(partial, target)
    except OSError:  # another process unpacked it first
        shutil.rmtree(partial, ignore_errors=True)
