"""The Downloads tab: for each adapter its Hub repo/branch, the ``hf download`` command, a PEFT loading
snippet, and a zip of a local adapter folder built on demand in a temporary folder.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import gradio as gr

from codegen_lab.hub import Hub, HubError
from codegen_lab.naming import slugify
from codegen_lab.run_folder import ADAPTER_CONFIG
from model_cards.card import usage_snippet
from space.catalog import ModelChoice, model_choices


def download_command(choice: ModelChoice) -> str:
    if choice.repo is None:
        return f"# {choice.label} is a local folder, not on the Hub yet: use the zip below, or push the run."
    return f"hf download {choice.repo} --revision {choice.revision} --local-dir {slugify(choice.repo.split('/')[-1])}"


def peft_snippet(choice: ModelChoice, base_model: str) -> str:
    """The cards' loading snippet for this adapter; the base it names is the adapter's own (else the
    engine's), an embedded alias as its Hub id."""
    base = choice.base_model or base_model
    if Path(base).is_absolute():  # a local folder (e.g. the embedded model's cache): name the engine's base
        base = base_model
    if choice.repo is None:
        return usage_snippet(base, str(choice.path))
    return usage_snippet(base, choice.repo, choice.revision)


def zip_adapter(choice: ModelChoice) -> Path:
    """A zip of the adapter's folder (downloaded through the Hub module for Hub entries) in a temp dir."""
    folder = (
        choice.path
        if choice.repo is None
        else Hub.from_env().download(choice.repo, choice.revision or "main")
    )
    if folder is None or not (folder / ADAPTER_CONFIG).is_file():
        raise HubError(f"{choice.label} has no adapter folder to zip.")
    out_dir = Path(tempfile.mkdtemp(prefix="adapter-zip-"))
    archive = shutil.make_archive(str(out_dir / slugify(choice.label)), "zip", root_dir=folder)
    return Path(archive)


def overview_rows(choices: list[ModelChoice]) -> list[list[str]]:
    return [
        [c.label, c.arm, c.repo or "(local)", c.revision or "", "yes" if c.path else "from Hub"]
        for c in choices
    ]


def build_downloads_tab(base_model: str) -> None:
    """The Downloads components and events, inside the caller's ``gr.Tab``."""
    adapters = {c.spec: c for c in model_choices(base_model) if c.source != "base"}
    gr.Markdown(
        "Every adapter the Space knows: demo adapters, local checkpoints and the Hub models of "
        "`space/models.yaml` (your own runs, once pushed)."
    )
    gr.Dataframe(
        overview_rows(list(adapters.values())),
        headers=["adapter", "arm", "Hub repo", "branch", "local folder"],
        interactive=False,
        elem_id="downloads-table",
    )

    def show(spec: str | None):
        if spec not in adapters:
            return "No adapter picked.", "", ""
        c = adapters[spec]
        source = f"Hub repo `{c.repo}`, branch `{c.revision}`" if c.repo else f"local folder `{c.path}`"
        return (
            f"**{c.label}** · arm `{c.arm}` · {source}",
            download_command(c),
            peft_snippet(c, base_model),
        )

    first = next(iter(adapters), None)
    picked = gr.Dropdown(
        [(c.label, s) for s, c in adapters.items()], value=first, label="Adapter", elem_id="downloads-adapter"
    )
    initial = show(first)
    where = gr.Markdown(initial[0], elem_id="downloads-where")
    command = gr.Code(
        initial[1], label="Download with the hf CLI", language="shell", elem_id="downloads-command"
    )
    snippet = gr.Code(initial[2], label="Load with PEFT", language="python", elem_id="downloads-snippet")
    with gr.Row():
        make_zip = gr.Button("Build a zip of this adapter", elem_id="downloads-zip")
        archive = gr.File(label="Adapter zip", elem_id="downloads-file")

    def build_zip(spec: str | None):
        if spec not in adapters:
            gr.Warning("Pick an adapter first.")
            return None
        try:
            return str(zip_adapter(adapters[spec]))
        except HubError as err:
            gr.Warning(str(err))
            return None

    picked.change(show, picked, [where, command, snippet], api_name=False)
    make_zip.click(build_zip, picked, archive, concurrency_limit=2, api_name=False)
