"""pass@k, its confidence interval, and paired tests between two models on the same problems."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``c`` of ``n`` samples correct: 1 - C(n-c, k) / C(n, k)."""
    if not 0 <= c <= n or k < 1 or k > n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n; got n={n}, c={c}, k={k}.")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def mean_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """pass@k averaged over problems, each given as (n samples, c correct)."""
    if not counts:
        raise ValueError("pass@k of zero problems is undefined.")
    return sum(pass_at_k(n, c, k) for n, c in counts) / len(counts)


def pass_at_ks(counts: Sequence[tuple[int, int]], ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """{"k": pass@k} for every k that every problem has enough samples for."""
    smallest = min(n for n, _ in counts)
    return {str(k): mean_pass_at_k(counts, k) for k in ks if k <= smallest}


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval (95 % by default): honest near 0 and 1, where the normal one is not."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_mean_interval(
    values: Sequence[float], n_resamples: int = 10000, seed: int = 0
) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of a mean, resampling the values (problems), seeded."""
    if not values:
        return (0.0, 1.0)
    return central_95(bootstrap_means(values, n_resamples, seed))


def central_95(sorted_values: list[float]) -> tuple[float, float]:
    n = len(sorted_values)
    return (sorted_values[int(0.025 * n)], sorted_values[int(0.975 * n) - 1])


def bootstrap_means(values: Sequence[float], n_resamples: int, seed: int) -> list[float]:
    """Sorted means of ``n_resamples`` resamples (with replacement) of ``values``."""
    rng = random.Random(seed)
    n = len(values)
    return sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(n_resamples))


def pass_at_1_interval(counts: Sequence[tuple[int, int]]) -> tuple[tuple[float, float], str]:
    """The 95 % interval of Pass@1 over problems, and how it was made.

    One sample per problem: Wilson over the problems. Several: a bootstrap over problems of their
    per-problem pass@1, since samples of one problem are not independent (a Wilson interval over all
    samples would be about sqrt(n) times too narrow).
    """
    if all(n == 1 for n, _ in counts):
        return wilson_interval(sum(c for _, c in counts), len(counts)), "wilson"
    return bootstrap_mean_interval([c / n for n, c in counts]), "bootstrap-problems"


def mcnemar_exact(b01: int, b10: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of the discordant pairs against 1/2."""
    discordant = b01 + b10
    if discordant == 0:
        return 1.0
    tail = sum(math.comb(discordant, i) for i in range(min(b01, b10) + 1)) / 2**discordant
    return min(1.0, 2 * tail)


def paired_test(
    a: Mapping[str, bool | float],
    b: Mapping[str, bool | float],
    method: str = "mcnemar",
    n_resamples: int = 10000,
    seed: int = 0,
) -> dict:
    """Compare A and B on the problems both have.

    ``mcnemar`` (exact, two-sided) needs pass/fail per problem: b10 = A passes and B fails, b01 = the
    reverse. ``bootstrap`` resamples problems and accepts per-problem pass@1 fractions too; its p-value
    is twice the share of resampled differences on the far side of zero, and it adds a 95 % interval.
    """
    common = sorted(set(a) & set(b))
    if not common:
        raise ValueError("The two result sets share no problem; nothing to compare.")
    diffs = [float(b[q]) - float(a[q]) for q in common]
    result = {
        "method": method,
        "n_problems": len(common),
        "pass@1_a": sum(float(a[q]) for q in common) / len(common),
        "pass@1_b": sum(float(b[q]) for q in common) / len(common),
        "difference": sum(diffs) / len(common),
    }
    if method == "mcnemar":
        values = {float(a[q]) for q in common} | {float(b[q]) for q in common}
        if not values <= {0.0, 1.0}:
            raise ValueError(
                "McNemar needs pass/fail per problem; use method='bootstrap' for pass@1 fractions."
            )
        result["b10"] = sum(1 for q in common if a[q] and not b[q])
        result["b01"] = sum(1 for q in common if b[q] and not a[q])
        result["p_value"] = mcnemar_exact(result["b01"], result["b10"])
        return result
    if method != "bootstrap":
        raise ValueError(f"Unknown paired test {method!r}; use 'mcnemar' or 'bootstrap'.")
    means = bootstrap_means(diffs, n_resamples, seed)
    below = sum(1 for m in means if m <= 0) / n_resamples
    above = sum(1 for m in means if m >= 0) / n_resamples
    result["p_value"] = min(1.0, 2 * min(below, above))
    result["difference_ci95"] = central_95(means)
    return result
