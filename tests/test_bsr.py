"""Bilinear sequence regression: thresholds, limits, state evolution, GAMP-RIE, baselines."""

import warnings

import numpy as np
import pytest

from aimnotes import bsr, glm, rmt
from aimnotes.solvers import ConvergenceWarning

# (beta, rho) pairs with exact-recovery thresholds from the science notes.
KNOWN_THRESHOLDS = [((1.0, 0.5), 0.75), ((2.0, 0.5), 0.625), ((1.0, 0.2), 0.36),
                    ((0.5, 0.5), 0.625), ((3.0, 1.5), 1.0)]


# ------------------------------------------------------------ denoising table
@pytest.mark.parametrize("beta, rho", [(1.0, 0.5), (4.0, 0.1), (1.5, 1.3)])
def test_table_matches_direct_mmse(beta, rho):
    table = rmt.rectangular_mmse_table(beta, rho)
    rng = np.random.default_rng(0)
    delta = np.exp(rng.uniform(np.log(1e-5), np.log(1e4), 40))
    direct = rmt.rectangular_denoising_mmse(delta, beta, rho)
    assert np.max(np.abs(table(delta) - direct)) < 1e-5
    assert table.max_error < 1e-5
    # Limits outside the tabulated range.
    assert table(0.0) == 0.0 and table(np.inf) == 1.0
    assert table(1e-9) / 1e-9 == pytest.approx(bsr.exact_recovery_threshold(beta, rho), rel=1e-4)


def test_mmse_smooth_where_two_bulks_merge():
    # At beta = 4, rho = 0.1 the two bulks of the spectrum merge near Delta = 6.27;
    # the density has a narrow neck there that the quadrature must resolve. The
    # MMSE is smooth across it (second differences ~ -1.8e-5 on this grid; an
    # unresolved neck gave jumps of 1e-4).
    delta = np.linspace(6.1, 6.7, 13)
    assert len(rmt.rectangular_spectral_support(delta[0], 4.0, 0.1)) == 2
    assert len(rmt.rectangular_spectral_support(delta[-1], 4.0, 0.1)) == 1
    second = np.diff(rmt.rectangular_denoising_mmse(delta, 4.0, 0.1), 2)
    assert np.all(np.abs(second - second.mean()) < 1.5e-6)


# ------------------------------------------------------------ thresholds
@pytest.mark.parametrize("params, expected", KNOWN_THRESHOLDS)
def test_exact_recovery_threshold_known_values(params, expected):
    assert bsr.exact_recovery_threshold(*params) == pytest.approx(expected, abs=1e-14)


def test_exact_recovery_threshold_is_parameter_count():
    # r(d + L - r) parameters of a rank-r d x L matrix, per entry.
    for d, L, r in [(40, 40, 20), (30, 90, 10), (90, 30, 10), (50, 80, 50)]:
        beta, rho = L / d, r / min(d, L)
        assert bsr.exact_recovery_threshold(beta, rho) == pytest.approx(r * (d + L - r) / (d * L))
    assert bsr.exact_recovery_threshold([1.0, 2.0], 0.5).shape == (2,)


def test_small_noise_slope_is_exact_recovery_threshold():
    for beta, rho in [(1.0, 0.5), (2.0, 0.3), (1.0, 0.2)]:
        slope = rmt.rectangular_denoising_mmse(1e-4, beta, rho) / 1e-4
        assert slope == pytest.approx(bsr.exact_recovery_threshold(beta, rho), rel=2e-3)


# ------------------------------------------------------------ state evolution
ALPHAS = np.linspace(0.0, 1.2, 25)


@pytest.mark.parametrize("beta, rho", [(1.0, 0.5), (2.0, 0.3)])
def test_noiseless_se_vanishes_exactly_at_threshold(beta, rho):
    se = bsr.state_evolution(ALPHAS, beta, rho)
    alpha_s = bsr.exact_recovery_threshold(beta, rho)
    below = (ALPHAS > 0) & (ALPHAS < alpha_s - 1e-9)
    assert np.all(se.converged)
    assert se.mse[0] == 1.0 and se.q_hat[0] == 0.0
    assert np.all((se.mse[below] > 0) & (se.mse[below] < 1))
    assert np.all(se.mse[ALPHAS >= alpha_s] == 0)
    assert np.all(np.diff(se.mse) <= 1e-12)
    # Continuous transition: the MSE vanishes linearly at alpha_s.
    eps = np.array([1e-2, 5e-3])
    m = bsr.state_evolution(alpha_s - eps, beta, rho).mse
    assert 0 < m[1] < m[0] and m[0] / eps[0] == pytest.approx(m[1] / eps[1], rel=0.1)


def test_se_is_a_fixed_point_and_fields_agree():
    alpha, beta, rho, noise = np.array([0.2, 0.6, 1.0]), 1.5, 0.4, 0.1
    se = bsr.state_evolution(alpha, beta, rho, noise)
    table = rmt.rectangular_mmse_table(beta, rho)
    np.testing.assert_allclose(table(1.0 / se.q_hat), se.mse, atol=1e-10)
    np.testing.assert_allclose(se.q_hat, alpha / (noise + 1 - se.q))
    np.testing.assert_allclose(se.test_error, noise + se.mse)
    # Independent solve with scipy's brentq on the exact (untabulated) denoising error.
    from scipy.optimize import brentq

    m = brentq(lambda m: rmt.rectangular_denoising_mmse((noise + m) / 0.6, beta, rho) - m,
               1e-6, 1.0, xtol=1e-13)
    assert se.mse[1] == pytest.approx(m, abs=2e-6)


def test_se_below_ridge_and_symmetric_in_d_and_L():
    for noise in [0.0, 0.3]:
        se = bsr.state_evolution(ALPHAS, 2.0, 0.3, noise)
        assert np.all(se.mse <= bsr.ridge_mse(ALPHAS, noise) + 1e-9)
        swapped = bsr.state_evolution(ALPHAS, 0.5, 0.3, noise)
        np.testing.assert_array_equal(se.mse, swapped.mse)
    noisy = bsr.state_evolution(ALPHAS[1:], 1.0, 0.5, 0.1)
    assert np.all(noisy.mse > 0)
    # alpha and noise broadcast
    grid = bsr.state_evolution(ALPHAS[:, None], 1.0, 0.5, np.array([0.0, 0.1]))
    assert grid.mse.shape == (ALPHAS.size, 2)
    np.testing.assert_allclose(grid.mse[1:, 1], noisy.mse)


def test_large_rho_tends_to_ridge():
    alpha = np.linspace(0.1, 1.5, 8)
    gaps = [np.max(np.abs(bsr.state_evolution(alpha, 1.0, rho, 0.1).mse
                          - bsr.ridge_mse(alpha, 0.1))) for rho in (2.0, 8.0)]
    assert gaps[1] < gaps[0] / 2 and gaps[1] < 2e-3


def test_long_sequence_limit():
    rho, alpha = 0.6, np.linspace(0.0, 1.1, 23)
    # Closed form at Delta = 0.
    se = bsr.long_sequence_state_evolution(alpha, rho)
    expected = np.where(alpha < min(1.0, rho), (1 - alpha) * (1 - alpha / rho), 0.0)
    np.testing.assert_allclose(se.mse, expected, atol=1e-10)
    assert np.isinf(se.beta)
    # The closed-form denoiser is the beta -> infinity limit of the rectangular one.
    delta = np.array([0.05, 0.5, 3.0])
    gaps = [np.max(np.abs(rmt.rectangular_denoising_mmse(delta, beta, rho)
                          - bsr.long_sequence_denoising_mmse(delta, rho))) for beta in (10.0, 100.0)]
    assert gaps[1] < gaps[0] / 3 and gaps[1] < 0.02
    # rho -> infinity gives D / (1 + D); D -> 0 gives min(rho, 1) D.
    np.testing.assert_allclose(bsr.long_sequence_denoising_mmse(delta, 1e6), delta / (1 + delta),
                               rtol=1e-4)
    assert bsr.long_sequence_denoising_mmse(1e-8, 0.3) == pytest.approx(0.3e-8, rel=1e-6)


def test_low_rank_limit():
    beta, noise = 2.0, 0.2
    a_w = bsr.low_rank_weak_recovery_threshold(beta, noise)
    assert a_w == pytest.approx((1 + noise) * np.sqrt(beta) / (1 + beta))
    se = bsr.low_rank_state_evolution(np.array([0.5 * a_w, 0.99 * a_w, 1.05 * a_w, 3.0]), beta, noise)
    np.testing.assert_allclose(se.q[:2], 0.0, atol=1e-12)
    assert 1e-6 < se.q[2] < se.q[3] < 1
    # Noiseless exact recovery at alpha_LR = 1 (the rho -> 0 counting bound).
    exact = bsr.low_rank_state_evolution(np.array([0.9, 1.1]), beta)
    assert exact.mse[0] > 1e-3 and exact.mse[1] == 0
    # Small rho at fixed alpha_LR approaches the low-rank curve (slowest next to
    # the weak-recovery threshold, which finite rho smooths out).
    alpha_lr = np.array([0.6, 1.0, 1.5])
    low = bsr.low_rank_state_evolution(alpha_lr, beta, noise)
    gaps = []
    for rho in (0.04, 0.01):
        alpha = alpha_lr * rho * (1 + beta) / beta
        np.testing.assert_allclose(bsr.low_rank_alpha(alpha, beta, rho), alpha_lr)
        gaps.append(np.abs(bsr.state_evolution(alpha, beta, rho, noise).mse - low.mse))
    assert np.all(gaps[1] < gaps[0]) and np.all(gaps[1][1:] < 0.015) and gaps[1][0] < 0.05


# ------------------------------------------------------------ data and algorithms
def test_sample_shapes_and_labels():
    X, y, S = bsr.sample(6, 9, 2, alpha=0.5, rng=1)
    assert X.shape == (27, 6, 9) and y.shape == (27,) and S.shape == (6, 9)
    np.testing.assert_allclose(y, np.einsum("nij,ij->n", X, S) / np.sqrt(54))
    X2, y2, S2 = bsr.sample(6, 9, 2, alpha=0.5, rng=1)
    np.testing.assert_array_equal(y, y2)
    _, yn, _ = bsr.sample(6, 9, 2, alpha=0.5, noise=0.5, rng=1)
    assert not np.allclose(yn, y)
    # Entries of S have unit variance.
    _, _, S = bsr.sample(200, 300, 100, alpha=0.0, rng=0)
    assert np.mean(S**2) == pytest.approx(1.0, abs=0.02)


def _runs(fn, alpha, noise, seeds, d=40, L=40, r=20):
    out = []
    for seed in seeds:
        X, y, S = bsr.sample(d, L, r, alpha, noise, rng=seed)
        out.append(bsr.mse(fn(X, y), S))
    return np.array(out)


def test_ridge_matches_closed_form():
    errs = _runs(lambda X, y: bsr.ridge(X, y, 0.2), 0.6, 0.2, range(3))
    assert abs(errs.mean() - bsr.ridge_mse(0.6, 0.2)) < 0.03


@pytest.mark.parametrize("alpha, noise", [(0.4, 0.0), (0.6, 0.1)])
def test_gamp_rie_tracks_state_evolution(alpha, noise):
    errs = _runs(lambda X, y: bsr.gamp_rie(X, y, 0.5, noise).S_hat, alpha, noise, range(4))
    se = bsr.state_evolution(alpha, 1.0, 0.5, noise).mse
    # d = L = 40: seed-to-seed spread ~ 0.03; allow the mean 4 standard errors + 0.02.
    assert abs(errs.mean() - se) < 4 * errs.std(ddof=1) / 2 + 0.02
    assert errs.mean() < bsr.ridge_mse(alpha, noise) - 0.05


def test_gamp_rie_exact_recovery_and_history():
    X, y, S = bsr.sample(30, 30, 15, 0.9, rng=3)  # alpha_s = 0.75
    res = bsr.gamp_rie(X, y, 0.5, 0.0, S_true=S)
    assert res.converged and bsr.mse(res.S_hat, S) < 1e-6
    assert res.history["mse"].shape == (res.n_iter,)
    assert res.history["mse"][-1] < 1e-3 * res.history["mse"][0]


def test_gamp_rie_warns_when_not_converged():
    X, y, _ = bsr.sample(20, 20, 10, 0.5, rng=0)
    with pytest.warns(ConvergenceWarning):
        res = bsr.gamp_rie(X, y, 0.5, 0.0, max_iter=2)
    assert not res.converged and res.n_iter == 2


def test_gradient_descent_baselines():
    X, y, S = bsr.sample(20, 20, 10, 0.9, rng=2)
    res = bsr.gradient_descent(X, y, 10, n_init=4, lr=0.3, n_steps=4000, rng=99)
    assert res.S_runs.shape == (4, 20, 20)
    assert np.all(res.loss_history[-1] < res.loss_history[0])
    single = bsr.mse(res.S_runs, S)
    assert single.shape == (4,) and np.all(single < 0.05)
    # Averaging initialisations cannot increase the error (convexity of the square).
    assert bsr.mse(res.S_hat, S) <= single.mean() + 1e-12
    # Below the threshold averaging helps a lot: GD does not find the teacher.
    X, y, S = bsr.sample(20, 20, 10, 0.4, rng=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = bsr.gradient_descent(X, y, 10, n_init=6, lr=0.3, n_steps=1500, rng=99)
    assert bsr.mse(res.S_hat, S) < 0.8 * bsr.mse(res.S_runs, S).mean()


def test_gradient_descent_reports_divergence():
    X, y, _ = bsr.sample(10, 10, 5, 0.5, rng=0)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        res = bsr.gradient_descent(X, y, 5, lr=1e3, n_steps=50, rng=99)
    assert not res.converged


# ------------------------------------------------------------ bad input
@pytest.mark.parametrize("call", [
    lambda: bsr.state_evolution(0.5, 0.0, 0.5),
    lambda: bsr.state_evolution(0.5, -1.0, 0.5),
    lambda: bsr.state_evolution(0.5, 1.0, 0.0),
    lambda: bsr.state_evolution(-0.1, 1.0, 0.5),
    lambda: bsr.state_evolution(np.nan, 1.0, 0.5),
    lambda: bsr.state_evolution(0.5, 1.0, 0.5, noise=-1.0),
    lambda: bsr.exact_recovery_threshold(1.0, -0.5),
    lambda: bsr.long_sequence_state_evolution(0.5, 0.0),
    lambda: bsr.low_rank_state_evolution(0.5, 0.0),
    lambda: bsr.sample(10, 10, 0, 0.5),
    lambda: bsr.sample(10, 10, 2, -0.5),
    lambda: bsr.sample(10, 10, 2, 0.5, noise=-1),
    lambda: bsr.gamp_rie(np.zeros((5, 3, 4)), np.zeros(4), 0.5, 0.0),
    lambda: bsr.gamp_rie(np.zeros((5, 12)), np.zeros(5), 0.5, 0.0),
    lambda: bsr.gamp_rie(np.ones((5, 3, 4)), np.zeros(5), 0.5, -0.1),
    lambda: bsr.gamp_rie(np.ones((5, 3, 4)), np.zeros(5), 0.5, 0.0, S_true=np.zeros((4, 3))),
    lambda: bsr.ridge(np.zeros((5, 3, 4)), np.zeros(6)),
    lambda: bsr.gradient_descent(np.zeros((5, 3, 4)), np.zeros(5), 0),
    lambda: bsr.mse(np.zeros((3, 4)), np.zeros((4, 3))),
])
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_ridge_mse_is_glm_linear_mmse():
    alpha = np.linspace(0, 2, 9)
    np.testing.assert_array_equal(bsr.ridge_mse(alpha, 0.1), glm.linear_mmse(alpha, 0.1))
