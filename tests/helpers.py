"""What several test modules share that is not a fixture: servers on loopback standing in for the Hub."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextlib.contextmanager
def loopback_hub(monkeypatch, handler: type[BaseHTTPRequestHandler], **state) -> Iterator[tuple[type, str]]:
    """``handler`` (a subclass with fresh class-level ``state``) serving on loopback as the real Hub would:
    the local hub unset and huggingface_hub online for the test; yields (handler class, endpoint URL)."""
    from huggingface_hub import constants

    monkeypatch.delenv("CODEGEN_LAB_HUB")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # an earlier offline test may have set it
    handler = type("Handler", (handler,), state)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
