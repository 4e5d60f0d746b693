"""The official GGUF of a Hub transformers model, for llama.cpp: where it is published, the bytes it must be.

A Space has the Hub but not the embedded packages, so ``BASE_MODEL=Qwen/Qwen2.5-Coder-1.5B-Instruct`` finds
the Q4_K_M file its authors publish in ``Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF`` — the same bytes as the
embedded copy — downloaded through ``codegen_lab/hub.py`` (or read from a local hub, ``CODEGEN_LAB_HUB``)
and checked against the published size and SHA-256 before llama.cpp opens it. ``HUB_GGUFS`` is the one
mapping; a model missing from it has no GGUF here (the Arena then runs it on transformers).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from codegen_lab.embedded import QWEN_CODER, sha256_file
from codegen_lab.hub import Hub


@dataclass(frozen=True)
class HubGGUF:
    """A GGUF file on the Hub and the size and SHA-256 it is published with."""

    repo: str
    filename: str
    size: int
    sha256: str


# Hub id of a transformers model -> its official GGUF (the quantization the study's llama.cpp runs use).
HUB_GGUFS = {
    QWEN_CODER.hub_id: HubGGUF(
        "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF", QWEN_CODER.gguf, QWEN_CODER.size, QWEN_CODER.sha256
    ),
}


class HubGGUFError(ValueError):
    """A Hub GGUF whose bytes are not the published file."""


def known_gguf(base: str) -> HubGGUF | None:
    """The official GGUF of a Hub id (``repo`` or ``repo@revision``), or None when none is known."""
    return HUB_GGUFS.get(base.split("@", 1)[0])


def hub_gguf(base: str, hub: Hub | None = None) -> Path | None:
    """The verified local GGUF of a Hub base (downloaded once), or None when its GGUF is not known."""
    entry = known_gguf(base)
    if entry is None:
        return None
    path = (hub or Hub.from_env()).download_file(entry.repo, entry.filename)
    stat = path.stat()
    _verify(path, stat.st_size, stat.st_mtime_ns, entry)
    return path


@functools.cache
def _verify(path: Path, size: int, mtime_ns: int, entry: HubGGUF) -> None:
    """Refuse a file whose size or SHA-256 is not the published one (hashed once per file version)."""
    where = f"{entry.repo}/{entry.filename} ({path})"
    if size != entry.size:
        raise HubGGUFError(
            f"{where} has {size:,} bytes, not the published {entry.size:,}: refusing to use it; delete it "
            "from the Hub cache and start again."
        )
    digest = sha256_file(path, desc=f"verify {entry.filename}")
    if digest != entry.sha256:
        raise HubGGUFError(
            f"{where} has SHA-256 {digest}, not the published {entry.sha256}: refusing to use it; delete it "
            "from the Hub cache and start again."
        )
