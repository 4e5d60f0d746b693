"""analysis.compare: the problem matrix's one shape, the paired comparison and the sentence it supports."""

from __future__ import annotations

import pytest

from analysis.compare import comparison_sentence, paired_comparison, problem_matrix


def test_problem_matrix_is_problems_by_columns_with_gaps():
    matrix = problem_matrix({"deep": {"b": 1, "a": 0}, "diverse": {"a": 1.0}, "lcb": {"c": 0.4}})
    assert matrix == {
        "columns": ["deep", "diverse", "lcb"],
        "problems": ["a", "b", "c"],
        "solved": [[0, 1.0, None], [1, None, None], [None, None, 0.4]],
    }


def test_pass_fail_comparison_counts_both_sides_and_uses_exact_mcnemar():
    a = {f"p{i}": int(i < 4) for i in range(20)}
    b = {f"p{i}": int(i < 12) for i in range(20)} | {"extra": 1}
    t = paired_comparison(a, b, "deep@8", "diverse@8", n_resamples=2000)
    assert (t["n_problems"], t["solved_a"], t["solved_b"], t["both"], t["neither"]) == (20, 4, 12, 4, 8)
    assert t["only_a"] == [] and t["only_b"] == sorted(f"p{i}" for i in range(4, 12))
    assert t["mcnemar_p"] == pytest.approx(2 / 256)  # 8 discordant pairs, all one way
    assert t["difference"] == pytest.approx(-0.4) and t["bootstrap_ci95"][1] < 0  # A - B
    assert t["sentence"] == comparison_sentence(t)
    assert t["sentence"].startswith("diverse@8 is significantly better at n=20 (exact McNemar p = 0.008)")
    assert (
        "deep@8 solves 4/20, diverse@8 solves 12/20; 0 problems only deep@8 solves, 8 only diverse@8"
        in (t["sentence"])
    )


def test_no_difference_says_so_with_its_interval():
    a = {"p1": 1, "p2": 0, "p3": 1, "p4": 0}
    b = {"p1": 0, "p2": 1, "p3": 1, "p4": 0}
    t = paired_comparison(a, b, "A", "B", n_resamples=500)
    assert t["mcnemar_p"] == 1.0
    assert t["sentence"].startswith("No significant difference at n=4: A solves 2/4, B solves 2/4")
    assert "exact McNemar p = 1.000" in t["sentence"] and "which includes 0" in t["sentence"]


def test_pass_at_1_fractions_are_decided_by_the_bootstrap():
    a = {f"p{i}": 0.1 for i in range(30)}
    b = {f"p{i}": 0.9 for i in range(30)}
    t = paired_comparison(a, b, "small", "large", n_resamples=1000)
    assert t["mcnemar_p"] is None and len(t["only_b"]) == 30 and t["both"] == t["neither"] == 0
    assert t["sentence"].startswith("large is significantly better at n=30 (paired bootstrap p = 0.000)")
    assert "small Pass@1 0.100, large 0.900" in t["sentence"]
    with pytest.raises(ValueError, match="share no problems"):
        paired_comparison({"x": 1}, {"y": 1}, "A", "B")
