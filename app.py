"""codegen-lora-lab Space: `python app.py` (or `make app`) serves it on http://127.0.0.1:7860.

    BASE_MODEL=Qwen/Qwen2.5-Coder-1.5B-Instruct python app.py    # another base (default: embedded:smollm2)
    HOST=0.0.0.0 PORT=7860 python app.py                          # where to listen

On a ZeroGPU Space (the `spaces` package is installed there) generation runs under `spaces.GPU`.
"""

import os

try:  # ZeroGPU wants `spaces` imported before torch
    import spaces
except ImportError:
    spaces = None

from space.engine import Engine
from space.ui import CSS, base_model_from_env, build_demo

if __name__ == "__main__":
    engine = Engine(base_model_from_env())
    if spaces is not None:
        engine.stream = spaces.GPU(duration=120)(engine.stream)
    demo = build_demo(engine)
    demo.queue(default_concurrency_limit=2, max_size=64).launch(
        server_name=os.environ.get("HOST", "127.0.0.1"),
        server_port=int(os.environ.get("PORT", "7860")),
        ssr_mode=False,
        show_error=True,
        css=CSS,
    )
