"""The study report: deep vs diverse, from the runs' own results files, the same way every time.

    python -m model_cards.report --runs outputs/deep-smoke outputs/diverse-smoke --output_dir reports/smoke
    python -m model_cards.report --runs results/course --output_dir reports/course --no_qualitative \
        --reference results/course_harness_verdicts.jsonl
    python -m model_cards.report --runs me/deep-run me/diverse-run --output_dir reports/hub \
        --push_to_hub --hub_repo me/study-report

`--runs` takes local run folders, Hub repos (every `step-NNNNNN` branch), or folders of results files
(grouped into runs by `model.run`). Writes DIR/report.md, its PNG figures, and DIR/report.json with
every number in the report.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from analysis import compare
from analysis.runs import Checkpoint, Run, StudyInputError, load_runs
from codegen_lab.atomic import replace_dir
from model_cards.report import numbers


@dataclass
class ReportArguments:
    runs: list[str] = field(metadata={"help": "run folders, Hub repos or results folders"})
    output_dir: str = field(metadata={"help": "folder to write report.md, report.json and the figures to"})
    push_to_hub: bool = field(default=False, metadata={"help": "upload the report folder to --hub_repo"})
    hub_repo: str | None = field(default=None, metadata={"help": "the Hub repo of the report"})
    title: str = field(default="Study report: deep vs diverse", metadata={"help": "report title"})
    case_studies: int = field(default=3, metadata={"help": "how many problems to show side by side"})
    case_problems: list[str] = field(
        default_factory=list, metadata={"help": "question ids for the case studies (default: most different)"}
    )
    no_qualitative: bool = field(default=False, metadata={"help": "skip generating the qualitative answers"})
    max_new_tokens: int = field(default=160, metadata={"help": "token budget of each qualitative answer"})
    reference: str | None = field(
        default=None,
        metadata={
            "help": "JSONL of another harness's verdicts (checkpoint, question_id, course_passed) to compare"
        },
    )


def reported_checkpoint(run: Run, best: dict) -> Checkpoint | None:
    return next((c for c in run.checkpoints if c.step == best.get("step")), None)


def comparison_runs(runs: list[Run]) -> tuple[Run, Run] | None:
    """Deep against diverse when both arms are there, else the first two runs given."""
    scored = [r for r in runs if r.judged()]
    deep = next((r for r in scored if r.arm == "deep"), None)
    diverse = next((r for r in scored if r.arm == "diverse"), None)
    if deep and diverse:
        return deep, diverse
    return (scored[0], scored[1]) if len(scored) >= 2 else None


def build_report(runs: list[Run], args: ReportArguments, out_dir: Path) -> dict:
    """The report dict: every number of report.md, with the file each one comes from."""
    rows = [numbers.checkpoint_row(c, str(out_dir)) for run in runs for c in run.checkpoints]
    run_entries, reported = [], {}
    for run in runs:
        best = numbers.select_best(run, [r for r in rows if r["run"] == run.name])
        reported[run.name] = reported_checkpoint(run, best)
        run_entries.append(
            {
                "name": run.name,
                "arm": run.arm,
                "source": run.source,
                "location": run.location,
                "steps": [c.step for c in run.checkpoints],
                "loss_curves": {
                    split: [list(p) for p in points] for split, points in run.loss_history.items()
                },
                "loss": numbers.loss_summary(run),
                "best": best,
                "regressions": numbers.regressions(run) if run.judged() else None,
            }
        )
    report = {
        "schema": numbers.REPORT_SCHEMA,
        "title": args.title,
        "inputs": list(args.runs),
        "settings": {
            "overfit_tolerance": numbers.OVERFIT_TOLERANCE,
            "alpha": compare.ALPHA,
            "bootstrap_samples": compare.BOOTSTRAP_SAMPLES,
            "bootstrap_seed": 0,
        },
        "runs": run_entries,
        "checkpoints": rows,
        "paired": None,
        "paired_note": "",
        "paired_per_step": [],
        "matrix": numbers.problem_matrix(runs),
        "case_studies": [],
    }
    pair = comparison_runs(runs)
    if pair is None:
        report["paired_note"] = "No paired test: it needs two runs with per-problem results."
    else:
        a, b = pair
        best_a, best_b = reported[a.name], reported[b.name]
        if best_a is None or best_b is None or best_a.test is None or best_b.test is None:
            report["paired_note"] = "No paired test: a reported checkpoint has no per-problem results file."
        else:
            report["paired"] = numbers.paired_comparison(best_a, best_b)
            report["case_studies"] = numbers.case_studies(
                a, best_a, b, best_b, args.case_studies, list(args.case_problems)
            )
            steps_b = {c.step: c for c in b.judged()}
            for ca in a.judged():
                if ca.step in steps_b:
                    pair_test = numbers.paired_comparison(ca, steps_b[ca.step])
                    report["paired_per_step"].append({"step": ca.step} | pair_test)
    report["qualitative"] = qualitative(reported, args)
    if args.reference:
        if not Path(args.reference).is_file():
            raise StudyInputError(f"--reference {args.reference} does not exist.")
        report["harness"] = numbers.harness_comparison(runs, args.reference)
    return report


def qualitative(reported: dict[str, Checkpoint | None], args: ReportArguments) -> dict:
    from model_cards.report.qualitative import PROMPTS, answer_prompts, unavailable_reason

    if args.no_qualitative:
        return {"available": False, "reason": "skipped with --no-qualitative."}
    checkpoints = {run: c for run, c in reported.items() if c is not None and c.arm != "base"}
    reason = unavailable_reason(checkpoints)
    if reason:
        return {"available": False, "reason": reason}
    answers = answer_prompts(checkpoints, args.max_new_tokens, PROMPTS)
    return {"available": True, "max_new_tokens": args.max_new_tokens, "answers": answers}


def write_report(args: ReportArguments) -> Path:
    """Build into a temporary folder next to DIR and swap it in, so DIR is never half-written."""
    from model_cards.report.figures import draw_all
    from model_cards.report.sections import render

    out = Path(args.output_dir)
    runs = load_runs(args.runs)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        report = build_report(runs, args, out)
        report["figures"] = draw_all(report, tmp)
        (tmp / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
        (tmp / "report.md").write_text(render(report))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_dir(tmp, out)
    return out


def main(args: ReportArguments) -> None:
    out = write_report(args)
    report = json.loads((out / "report.json").read_text())
    print(f"report written to {out / 'report.md'} ({len(report['checkpoints'])} checkpoints)")
    if report["paired"]:
        print(report["paired"]["sentence"])
    if args.push_to_hub:
        from codegen_lab.hub import Hub

        hub = Hub.from_env()
        hub.create_repo(args.hub_repo)
        hub.upload_folder(args.hub_repo, out, commit_message="Upload the study report")
        print(f"pushed to {hub.describe(args.hub_repo)}")


def make_parser():
    from trl import TrlParser

    return TrlParser(ReportArguments)


def cli() -> None:
    from codegen_lab.hub import HubError

    try:
        (report_args,) = make_parser().parse_args_and_config()
        if report_args.push_to_hub and not report_args.hub_repo:
            raise StudyInputError("--push_to_hub needs --hub_repo <user/repo>.")
        main(report_args)
    except (ValueError, HubError) as err:  # StudyInputError, a results file that is not one
        sys.exit(f"error: {err}")
