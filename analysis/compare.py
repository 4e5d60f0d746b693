"""Comparing evaluations problem by problem: the problem matrix, the paired comparison of two and its sentence.

The leaderboard, the study report and ``python -m evaluation compare`` all call these, so a comparison reads
the same wherever it is shown. Per-problem values are Pass@1 on the problem: 1/0 for a greedy sample.
"""

from __future__ import annotations

from collections.abc import Mapping

from evaluation.metrics import mcnemar_exact, paired_test

ALPHA = 0.05
BOOTSTRAP_SAMPLES = 10_000


def problem_matrix(columns: Mapping[str, Mapping[str, float]]) -> dict:
    """Problems × columns: ``{"columns", "problems", "solved"}``, each cell that column's Pass@1 on the
    problem (1/0 for greedy), None where the column was not judged on it; problems sorted."""
    problems = sorted({q for per_problem in columns.values() for q in per_problem})
    return {
        "columns": list(columns),
        "problems": problems,
        "solved": [[per_problem.get(q) for per_problem in columns.values()] for q in problems],
    }


def paired_comparison(
    a: Mapping[str, float],
    b: Mapping[str, float],
    name_a: str,
    name_b: str,
    n_resamples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> dict:
    """A against B on the problems both were judged on: who solves what, exact McNemar when both are
    pass/fail per problem (else None), a paired bootstrap of the Pass@1 difference A − B, the sentence."""
    shared = sorted(set(a) & set(b))
    if not shared:
        raise ValueError(f"{name_a} and {name_b} share no problems; nothing to compare.")
    pa, pb = {q: float(a[q]) for q in shared}, {q: float(b[q]) for q in shared}
    binary = {*pa.values(), *pb.values()} <= {0.0, 1.0}
    # paired_test reports B - A; it is called with the roles swapped to report A - B
    bootstrap = paired_test(pb, pa, method="bootstrap", n_resamples=n_resamples, seed=seed)
    only_a = [q for q in shared if pa[q] > pb[q]]
    only_b = [q for q in shared if pb[q] > pa[q]]
    total_a, total_b = sum(pa.values()), sum(pb.values())
    result = {
        "a": name_a,
        "b": name_b,
        "n_problems": len(shared),
        "solved_a": int(total_a) if binary else total_a,
        "solved_b": int(total_b) if binary else total_b,
        "both": sum(pa[q] == pb[q] == 1.0 for q in shared),
        "neither": sum(pa[q] == pb[q] == 0.0 for q in shared),
        "only_a": only_a,
        "only_b": only_b,
        "mcnemar_p": mcnemar_exact(len(only_b), len(only_a)) if binary else None,
        "difference": (total_a - total_b) / len(shared),
        "bootstrap_ci95": list(bootstrap["difference_ci95"]),
        "bootstrap_p": float(bootstrap["p_value"]),
        "bootstrap_samples": n_resamples,
    }
    result["sentence"] = comparison_sentence(result)
    return result


def comparison_sentence(t: Mapping) -> str:
    """The one sentence the numbers support: a significant difference at ALPHA, or none, with its test."""
    n, a, b = t["n_problems"], t["a"], t["b"]
    interval = f"{t['bootstrap_ci95'][0]:+.3f} to {t['bootstrap_ci95'][1]:+.3f}"
    if t["mcnemar_p"] is None:  # Pass@1 fractions per problem: the bootstrap decides
        counts = f"{a} Pass@1 {t['solved_a'] / n:.3f}, {b} {t['solved_b'] / n:.3f}"
        discordant = f"{len(t['only_a'])} problems {a} does better on, {len(t['only_b'])} {b}"
        test, p = "paired bootstrap", t["bootstrap_p"]
    else:
        counts = f"{a} solves {t['solved_a']}/{n}, {b} solves {t['solved_b']}/{n}"
        discordant = f"{len(t['only_a'])} problems only {a} solves, {len(t['only_b'])} only {b}"
        test, p = "exact McNemar", t["mcnemar_p"]
    if p >= ALPHA:
        return (
            f"No significant difference at n={n}: {counts}; {discordant} ({test} p = {p:.3f}, "
            f"95 % bootstrap interval of the Pass@1 difference {interval}, which includes 0)."
        )
    better = a if t["solved_a"] > t["solved_b"] else b
    return f"{better} is significantly better at n={n} ({test} p = {p:.3f}): {counts}; {discordant}."
