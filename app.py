"""codegen-lora-lab Space: `python app.py` (or `make app`) serves it on the embedded default model.

Set BASE_MODEL to a Hub id or folder to use another base (e.g. Qwen/Qwen2.5-Coder-1.5B-Instruct).
"""

import os

import gradio as gr

from codegen_lab import EMBEDDED_MODEL, SYSTEM_PROMPT
from codegen_lab.models import load_base

BASE_MODEL = os.environ.get("BASE_MODEL", EMBEDDED_MODEL)


def build_demo() -> gr.Blocks:
    model, tokenizer = load_base(BASE_MODEL)

    def answer(prompt: str) -> str:
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]
        batch = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(model.device)
        out = model.generate(**batch, max_new_tokens=128, do_sample=False)
        return tokenizer.decode(out[0, batch["input_ids"].shape[1] :], skip_special_tokens=True)

    with gr.Blocks(title="codegen-lora-lab") as demo:
        gr.Markdown(f"# codegen-lora-lab\nBase model: `{BASE_MODEL}`")
        prompt = gr.Textbox(label="Prompt")
        output = gr.Textbox(label="Answer")
        prompt.submit(answer, prompt, output)
    return demo


if __name__ == "__main__":
    build_demo().queue().launch(server_name=os.environ.get("HOST", "127.0.0.1"), server_port=int(os.environ.get("PORT", "7860")))
