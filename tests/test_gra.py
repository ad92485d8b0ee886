from dataclasses import replace

import numpy as np
import pytest
import torch

from tools.design import resonance_design
from tools.resonance import (ResonanceStepMultiplier, StopRule, disagreement_score, loss_weights,
                             parameter_jacobian, resonance_score, selection_probabilities, threshold)
from twin import get_twin


def test_score_peaks_at_the_physical_resonance_and_methods_agree():
    t = get_twin("driven_oscillator_resonance")
    omega = np.linspace(0.1, 4.0, 400)[:, None]
    by_autograd = resonance_score(t, omega)
    by_differences = resonance_score(t, omega, method="fd")
    np.testing.assert_allclose(by_autograd, by_differences, rtol=1e-5)
    assert abs(omega[np.argmax(by_autograd), 0] - 2.0) < 0.1
    fisher = resonance_score(t, omega, kind="fisher")
    assert abs(omega[np.argmax(fisher), 0] - 2.0) < 0.1


def test_score_of_an_ode_twin_and_refusals():
    t = get_twin("damped_pendulum")
    scores = resonance_score(t, np.array([[0.1, 0.0], [1.0, 0.0]]))
    assert scores.shape == (2,) and np.isfinite(scores).all()
    with pytest.raises(ValueError, match="lattice spacing"):
        resonance_score(get_twin("heat_lattice"), np.ones((2, 2)))
    with pytest.raises(ValueError, match="no parameters"):
        resonance_score(get_twin("feynman_I_12_2"), np.ones((2, 5)))
    with pytest.raises(ValueError, match="two candidate"):
        disagreement_score(np.ones((1, 5)))
    assert disagreement_score(np.array([[0.0, 1.0], [0.0, 3.0]])).tolist() == [0.0, 1.0]


def test_score_of_a_field_twin_matches_the_decay_law():
    # One mode A·cos(kx) of the lattice heat equation decays as A·exp(−λt), λ = 4D/a²·sin²(ka/2):
    # ∂f/∂D = −f·λ·t/D, read at the first site at the end of the run.
    t = replace(get_twin("heat_lattice"), t_end=0.25, n_steps=25)
    X = np.array([[1.0, 1.0], [2.0, 0.5], [2.9, 0.2]])
    values, J = parameter_jacobian(t, X, unknown=["D"])
    k = t.initial_fields(X, 0.1)[0]
    rate = 4 * 0.5 / 0.1**2 * np.sin(k * 0.1 / 2) ** 2
    np.testing.assert_allclose(values, X[:, 1] * np.exp(-rate * 0.25), rtol=1e-6)
    np.testing.assert_allclose(J[:, 0], -values * rate * 0.25 / 0.5, rtol=1e-5)
    scores = resonance_score(t, X, unknown=["D"])
    assert np.all(np.diff(scores) > 0)  # faster-decaying modes say more about D


def test_score_takes_only_the_unknown_parameters():
    t = get_twin("rlc_current_amplitude")
    omega = np.linspace(0.2, 6.0, 50)[:, None]
    _, every = parameter_jacobian(t, omega)
    values, unknown_only = parameter_jacobian(t, omega, unknown=["R", "L", "C"])
    assert unknown_only.shape == (50, 3)
    np.testing.assert_allclose(unknown_only, every[:, 1:], rtol=1e-12)  # V0 is known: its column is dropped
    # With V0 unknown the four columns are linearly dependent (a common scale): not identifiable.
    assert np.linalg.matrix_rank(every, tol=1e-8 * np.abs(every).max()) == 3
    assert resonance_score(t, omega, unknown=["R", "L", "C"]).shape == (50,)
    ode = get_twin("damped_pendulum")
    assert parameter_jacobian(ode, np.array([[0.5, 0.0]]), unknown=["gamma"])[1].shape == (1, 1)
    with pytest.raises(ValueError, match="no parameters"):
        resonance_score(t, omega, unknown=["Q"])


def test_threshold_beta_and_clipping():
    scores = np.array([0.0, 1.0, 2.0, 3.0, 10.0])
    assert threshold(scores) == 2.0 and threshold(scores, 0.0) == 0.0
    flat = selection_probabilities(scores, 2.0, beta=0.0)
    np.testing.assert_allclose(flat, 0.2)
    sharp = selection_probabilities(scores, 2.0, beta=2.0)
    assert np.all(np.diff(sharp) >= 0) and abs(sharp.sum() - 1) < 1e-12
    capped = selection_probabilities(scores, 2.0, beta=100.0, cap=50.0)
    assert capped.max() / capped.min() == pytest.approx(2500.0)
    with pytest.raises(ValueError):
        threshold(scores, 1.5)


def test_loss_weights_clip_normalise_and_fall_back():
    scores = np.linspace(0, 1, 100)
    result = loss_weights(scores, tau=0.5)
    assert not result.fallback and result.weights.mean() == pytest.approx(1.0)
    assert np.all(np.diff(result.weights) >= 0)
    spiky = np.zeros(100)
    spiky[0] = 50.0
    degenerate = loss_weights(spiky, tau=0.0, w_min=0.01, w_max=1000.0)
    assert degenerate.fallback and np.all(degenerate.weights == 1.0)
    clipped = loss_weights(np.array([-100.0, 0.0, 100.0]), tau=0.0, w_min=0.5, w_max=2.0, min_ess_fraction=0.0)
    raw = np.array([0.5, 1.0, 2.0])
    np.testing.assert_allclose(clipped.weights, raw / raw.mean())


def test_step_multiplier_keeps_the_fixed_point_of_a_convex_problem():
    target = torch.tensor([3.0, -2.0], dtype=torch.float64)

    def solve(alpha):
        x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        opt = ResonanceStepMultiplier(torch.optim.SGD([x], lr=0.05), [torch.tensor([2.0, 0.5])], alpha=alpha)
        for _ in range(400):
            opt.zero_grad()
            ((x - target) ** 2 * torch.tensor([1.0, 4.0])).sum().backward()
            opt.step()
        return x.detach()

    torch.testing.assert_close(solve(0.0), target)
    torch.testing.assert_close(solve(1.0), target)


def test_stop_rule():
    rule = StopRule(patience=3)
    assert not any(rule.update(v) for v in [5, 4, 3])
    assert not rule.update(3.5) and not rule.update(3.2)
    assert rule.update(3.1) and "stalled" in rule.reason
    assert StopRule(tolerance=0.01).update(1.0, uncertainty=0.001)
    assert StopRule(budget=1).update(1.0)


def test_resonance_design_concentrates_near_resonance_within_budget():
    t = get_twin("driven_oscillator_resonance")
    plan = resonance_design(t, budget=40, rounds=3, beta=2.0, seed=0)
    assert plan.simulator_calls == len(plan.points) == 40 and plan.score_evaluations > 0
    near = np.abs(plan.points[10:, 0] - 2.0) < 0.5
    assert near.mean() > 0.5  # a uniform design puts ~26 % of points there
    again = resonance_design(t, budget=40, rounds=3, beta=2.0, seed=0)
    np.testing.assert_array_equal(plan.points, again.points)
    with pytest.raises(ValueError, match="at least 1"):
        resonance_design(t, budget=0)


def test_resonance_design_through_the_tool_registry(tmp_path):
    from tools.registry import ToolContext, ToolError, call_tool

    ctx = ToolContext(tmp_path)
    result = call_tool(ctx, "run_experiment", {"twin": "driven_oscillator_resonance", "samples": 40,
                                               "method": "resonance"})
    assert result["simulator_calls"] == 40 and len(result["rounds"]) == 3
    with pytest.raises(ToolError, match="closed-form"):
        call_tool(ctx, "run_experiment", {"twin": "lorenz", "samples": 10, "method": "resonance"})


def test_ablation_calls_to_target_are_compared_pairwise_with_unreached_beyond_the_largest_budget():
    from benchmarks.gra_ablation import _calls_summary

    calls = [(48, 24), (96, 24), (None, 192), (24, 48), (24, 24), (192, 96)]  # (plain, A_seq) per seed
    cells = [{"calls_to_1pct": {"plain": p, "A_seq": a}} for p, a in calls]
    summary = _calls_summary(cells, "A_seq", most_tried=192)
    assert summary["median_calls_to_1pct"] == 36.0 and summary["reached_1pct"] == 1.0
    assert (summary["calls_fewer_than_plain"], summary["calls_more_than_plain"]) == (4, 1)
    assert 0 < summary["p_calls_vs_plain"] < 1
    plain = _calls_summary(cells, "plain", most_tried=192)
    assert plain["reached_1pct"] == 5 / 6 and plain["median_calls_to_1pct"] == 72.0 and "p_calls_vs_plain" not in plain


def test_ablation_summarises_each_parameter_paired_against_plain():
    from benchmarks.gra_ablation import _parameter_summary

    # gamma: A_seq better on every seed; F0: the same on every seed (no test possible)
    cells = [{"arms": {"plain": {"param_error": {"F0": 0.01, "gamma": 0.02 + i / 100}},
                       "A_seq": {"param_error": {"F0": 0.01, "gamma": 0.01 + i / 100}}}} for i in range(8)]
    gamma = _parameter_summary(cells, "A_seq", "plain", "gamma")
    assert gamma["median"] == pytest.approx(0.045) and gamma["ci95"][0] <= 0.045 <= gamma["ci95"][1]
    assert gamma["p_vs_plain"] < 0.01
    assert _parameter_summary(cells, "A_seq", "plain", "F0")["p_vs_plain"] is None
    assert _parameter_summary(cells, "plain", "plain", "gamma")["p_vs_plain"] is None
