"""pass@k, Wilson intervals and the paired tests, checked against values computed by hand."""

from __future__ import annotations

import math

import pytest

from evaluation.metrics import (
    mcnemar_exact,
    mean_pass_at_k,
    paired_test,
    pass_at_k,
    pass_at_ks,
    wilson_interval,
)


def test_pass_at_k_matches_the_combinatorial_definition():
    assert pass_at_k(1, 1, 1) == 1.0 and pass_at_k(1, 0, 1) == 0.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - math.comb(7, 5) / math.comb(10, 5))
    assert pass_at_k(10, 6, 5) == 1.0  # fewer than k failures: some k-subset always passes
    assert mean_pass_at_k([(10, 3), (10, 0), (10, 10)], 1) == pytest.approx((0.3 + 0 + 1) / 3)
    assert pass_at_ks([(10, 3), (5, 1)], ks=(1, 5, 10)).keys() == {"1", "5"}
    with pytest.raises(ValueError):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError):
        pass_at_k(5, 1, 6)


def test_wilson_interval():
    low, high = wilson_interval(5, 41)
    assert low == pytest.approx(0.0532, abs=1e-3) and high == pytest.approx(0.2554, abs=1e-3)
    assert wilson_interval(0, 41)[0] == 0.0 and 0.05 < wilson_interval(0, 41)[1] < 0.1
    assert wilson_interval(41, 41)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_exact_mcnemar():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 1024)
    assert mcnemar_exact(4, 4) == 1.0


def test_paired_test_counts_discordant_pairs():
    a = {"p1": True, "p2": True, "p3": False, "p4": False, "p5": True}
    b = {"p1": True, "p2": False, "p3": True, "p4": True, "p5": True, "extra": True}
    result = paired_test(a, b)
    assert result["n_problems"] == 5 and result["b10"] == 1 and result["b01"] == 2
    assert result["p_value"] == pytest.approx(1.0)
    assert result["difference"] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="share no problem"):
        paired_test({"x": True}, {"y": True})
    with pytest.raises(ValueError, match="bootstrap"):
        paired_test({"x": 0.5}, {"x": 1.0})


def test_paired_bootstrap_detects_a_clear_difference_and_not_a_null_one():
    a = {f"p{i}": i < 5 for i in range(40)}
    b = {f"p{i}": i < 25 for i in range(40)}
    clear = paired_test(a, b, method="bootstrap", n_resamples=2000)
    assert clear["p_value"] < 0.01 and clear["difference_ci95"][0] > 0
    same = paired_test(a, dict(a), method="bootstrap", n_resamples=2000)
    assert same["p_value"] == 1.0
    fractions = paired_test({"x": 0.2, "y": 0.4}, {"x": 0.6, "y": 0.4}, method="bootstrap", n_resamples=500)
    assert fractions["difference"] == pytest.approx(0.2)
