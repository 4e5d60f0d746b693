"""Writing files so that no reader ever sees half of one: write aside in the same folder, then rename.

Every stage writes its results, cards, histories and folders through these.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    ) as tmp:
        tmp.write(data)
    os.chmod(tmp.name, 0o644)  # a temporary file is private; what it becomes is for everyone to read
    os.replace(tmp.name, path)
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, data, indent: int = 1) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=indent) + "\n")


def copy_file_atomic(source: str | Path, target: str | Path) -> Path:
    return write_bytes_atomic(target, Path(source).read_bytes())


def replace_dir(new: str | Path, target: str | Path) -> None:
    """Swap the folder ``new`` into place; the old one is removed only after the new one is there."""
    new, target = Path(new), Path(target)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def copy_tree_atomic(source: str | Path, target: str | Path) -> None:
    target = Path(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    shutil.rmtree(staging)
    shutil.copytree(source, staging)
    replace_dir(staging, target)
