"""A Hub base's official GGUF for llama.cpp: found through the mapping, downloaded through hub.py (the local
hub for real, the real Hub at its HTTP boundary), checked against its published size and SHA-256."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from codegen_lab import hub_gguf
from codegen_lab.embedded import QWEN_CODER, SMOLLM2, gguf_path
from codegen_lab.hub import Hub
from codegen_lab.hub_gguf import HubGGUF, known_gguf
from codegen_lab.llamacpp import base_gguf, choose_engine, is_installed
from codegen_lab.models import ModelLoadError

SMOL_HUB_ID = "test/SmolLM2-135M-Instruct"  # a stand-in Hub id: the embedded SmolLM2 under a fake repo
SMOL_GGUF = HubGGUF("test/SmolLM2-135M-Instruct-GGUF", SMOLLM2.gguf, SMOLLM2.size, SMOLLM2.sha256)


@pytest.fixture
def smol_on_hub(local_hub, monkeypatch, embedded_dir) -> Path:
    """The embedded SmolLM2 published in the local hub as a transformers repo and a GGUF repo."""
    monkeypatch.setitem(hub_gguf.HUB_GGUFS, SMOL_HUB_ID, SMOL_GGUF)
    (local_hub / SMOL_HUB_ID).mkdir(parents=True)
    (local_hub / SMOL_HUB_ID / "main").symlink_to(embedded_dir)
    folder = local_hub / SMOL_GGUF.repo / "main"
    folder.mkdir(parents=True)
    (folder / SMOL_GGUF.filename).symlink_to(gguf_path(SMOLLM2.alias))
    return folder / SMOL_GGUF.filename


def test_the_study_base_maps_to_its_official_q4_k_m_gguf():
    entry = known_gguf("Qwen/Qwen2.5-Coder-1.5B-Instruct@main")
    assert entry == HubGGUF(
        "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        QWEN_CODER.size,
        QWEN_CODER.sha256,
    )
    assert known_gguf("Qwen/Qwen2.5-Coder-7B-Instruct") is None


def test_a_hub_base_finds_its_gguf_in_the_local_hub(smol_on_hub):
    assert base_gguf(SMOL_HUB_ID) == smol_on_hub
    assert base_gguf(f"{SMOL_HUB_ID}@main") == smol_on_hub
    assert base_gguf("test/unknown-model") is None  # not in the mapping: no GGUF, and no Hub call


def test_a_damaged_hub_gguf_is_refused_with_one_sentence(smol_on_hub):
    damaged = smol_on_hub.with_name("damaged")
    shutil.copyfile(smol_on_hub, damaged)
    with open(damaged, "r+b") as handle:
        handle.seek(SMOLLM2.size // 2)
        byte = handle.read(1)
        handle.seek(SMOLLM2.size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    smol_on_hub.unlink()
    damaged.rename(smol_on_hub)
    with pytest.raises(ModelLoadError, match=r"SHA-256 [0-9a-f]{64}, not the published") as err:
        base_gguf(SMOL_HUB_ID)
    assert SMOL_GGUF.repo in str(err.value) and "\n" not in str(err.value)
    with open(smol_on_hub, "r+b") as handle:
        handle.truncate(1000)
    with pytest.raises(ModelLoadError, match="has 1,000 bytes, not the published 98,362,432"):
        base_gguf(SMOL_HUB_ID)


def test_a_gguf_missing_from_the_hub_names_the_repo(local_hub, monkeypatch):
    monkeypatch.setitem(hub_gguf.HUB_GGUFS, SMOL_HUB_ID, SMOL_GGUF)
    with pytest.raises(ModelLoadError, match=SMOL_GGUF.repo):
        base_gguf(SMOL_HUB_ID)


def test_llama_cpp_runs_a_hub_base_with_a_hub_adapter(smol_on_hub, local_hub, embedded_dir, tmp_path):
    """The Hub base's GGUF and a ``repo@revision`` adapter converted like a local one: the real engine."""
    if not is_installed():
        pytest.fail("llama-cpp-python is not installed: make test builds it (make llama-cpp)")
    from evaluation.generate import Request
    from evaluation.llama_cpp_run import generate_llama_cpp, load_llama_cpp
    from tests.helpers import build_tiny_adapter

    assert choose_engine("llama.cpp", SMOL_HUB_ID) == ("llama.cpp", "asked for")
    assert choose_engine("auto", SMOL_HUB_ID)[0] == "llama.cpp"
    hub = Hub.from_env()
    hub.create_repo("me/smol-deep")
    hub.create_branch("me/smol-deep", "step-000010")
    hub.upload_folder("me/smol-deep", build_tiny_adapter(embedded_dir, tmp_path / "a", seed=3), "step-000010")
    loaded = load_llama_cpp(SMOL_HUB_ID, {"deep": "me/smol-deep@step-000010"})
    assert loaded.model.gguf == smol_on_hub and loaded.loras["deep"].suffix == ".gguf"
    messages = [{"role": "user", "content": "Print the sum of two integers."}]
    requests = [Request(messages, adapter="deep"), Request(messages, adapter="__base__")]
    deep, base = generate_llama_cpp(loaded, requests, max_new_tokens=8)
    assert deep and base and deep != base  # the LoRA is applied


class _GGUFHub(BaseHTTPRequestHandler):
    """Serves one file the way the Hub's resolve endpoint does, and records the requests."""

    content = b""
    requests: list[tuple[str, str, str | None]] = []

    def _headers(self) -> None:
        self.requests.append((self.command, self.path, self.headers.get("Authorization")))
        if not self.path.startswith("/org/tiny-GGUF/resolve/main/tiny.gguf"):
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False
        self.send_response(200)
        self.send_header("X-Repo-Commit", "c" * 40)
        self.send_header("ETag", f'"{hashlib.sha256(self.content).hexdigest()}"')
        self.send_header("Content-Length", str(len(self.content)))
        self.end_headers()
        return True

    def do_HEAD(self):
        self._headers()

    def do_GET(self):
        if self._headers():
            self.wfile.write(self.content)

    def log_message(self, *args):
        pass


@pytest.fixture
def gguf_server(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.delenv("CODEGEN_LAB_HUB")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    handler = type("Handler", (_GGUFHub,), {"requests": [], "content": b"GGUF" + bytes(range(256)) * 8})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token")
    yield handler
    server.shutdown()


def _publish(monkeypatch, content: bytes) -> None:
    entry = HubGGUF("org/tiny-GGUF", "tiny.gguf", len(content), hashlib.sha256(content).hexdigest())
    monkeypatch.setitem(hub_gguf.HUB_GGUFS, "org/tiny", entry)


def test_real_hub_path_downloads_the_gguf_once_and_checks_it(gguf_server, monkeypatch):
    _publish(monkeypatch, gguf_server.content)
    path = base_gguf("org/tiny")
    assert path.read_bytes() == gguf_server.content
    assert ("GET", "/org/tiny-GGUF/resolve/main/tiny.gguf", "Bearer hf_secret_token") in gguf_server.requests
    gets = [r for r in gguf_server.requests if r[0] == "GET"]
    assert base_gguf("org/tiny") == path
    assert [r for r in gguf_server.requests if r[0] == "GET"] == gets  # cached: not downloaded again


def test_real_hub_path_refuses_other_bytes(gguf_server, monkeypatch):
    _publish(monkeypatch, b"GGUF" + bytes(len(gguf_server.content) - 4))  # same size, other bytes
    with pytest.raises(ModelLoadError, match="org/tiny-GGUF/tiny.gguf .* has SHA-256"):
        base_gguf("org/tiny")


def test_real_hub_path_names_a_missing_gguf(gguf_server, monkeypatch):
    entry = HubGGUF("org/tiny-GGUF", "other.gguf", 1, "0" * 64)
    monkeypatch.setitem(hub_gguf.HUB_GGUFS, "org/tiny", entry)
    with pytest.raises(ModelLoadError, match="org/tiny-GGUF") as err:
        base_gguf("org/tiny")
    assert json.dumps(str(err.value)).count("\\n") == 0
