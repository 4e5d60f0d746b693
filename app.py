"""codegen-lora-lab Space: `python app.py` (or `make app`) serves it on http://127.0.0.1:7860.

    BASE_MODEL=Qwen/Qwen2.5-Coder-1.5B-Instruct python app.py    # another base (default: embedded:smollm2)
    BASE_MODEL=embedded:qwen2.5-coder-1.5b ARENA_ENGINE=llama.cpp python app.py   # Arena panes on llama.cpp (make app-qwen)
    GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT=7860 python app.py   # where to listen (Gradio's own variables)

On a ZeroGPU Space (the `spaces` package is installed there) generation runs under `spaces.GPU`.
"""

try:  # ZeroGPU wants `spaces` imported before torch
    import spaces
except ImportError:
    spaces = None

from codegen_lab.hub import HubError
from space.ui import CSS, build_demo, engine_from_env


def main() -> None:
    try:  # a bad BASE_MODEL or setting is one sentence, not a traceback
        engine = engine_from_env()
        if spaces is not None:
            engine.stream = spaces.GPU(duration=120)(engine.stream)
            engine.locked_generate = spaces.GPU(duration=120)(engine.locked_generate)  # Benchmark tab batches
        demo = build_demo(engine)
    except (ValueError, HubError) as err:  # ModelLoadError, a bad CODEGEN_LAB_REFRESH_S, an unreachable Hub
        raise SystemExit(f"error: {err}") from None
    # Host and port are Gradio's to decide (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT; a Space sets them).
    demo.queue(default_concurrency_limit=2, max_size=64).launch(ssr_mode=False, show_error=True, css=CSS)


if __name__ == "__main__":
    main()
