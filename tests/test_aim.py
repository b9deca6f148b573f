"""Tests of aimnotes.aim: channels, data, state evolution and its limits."""

import numpy as np
import pytest

from aimnotes import aim, rmt


class _Iterated(aim.Linear):
    """The linear channel without its closed form: SE must iterate."""

    def __init__(self, T):
        super().__init__(T)
        self.counting_constant = None


# ------------------------------------------------------------------ data
def test_sample_shapes_and_index_statistics():
    tokens, y, S = aim.sample(150, 0.1, 0.5, aim.Softmax(3), rng=0)
    assert tokens.shape == (2250, 3, 150) and y.shape == (2250, 3, 3) and S.shape == (150, 150)
    assert np.allclose(y.sum(axis=-1), 1.0)
    Q0 = np.trace(S @ S) / 150
    assert abs(Q0 - 1.5) < 0.05  # Tr S^2/d -> 1 + rho
    h = aim.attention_indices(tokens, S)
    assert np.allclose(h, np.swapaxes(h, 1, 2))
    se = 4 * np.sqrt(2 / len(h))  # relative standard error of a variance, with margin
    assert abs(h[:, 0, 0].var() / (2 * Q0) - 1) < se
    assert abs(h[:, 0, 1].var() / Q0 - 1) < se
    assert abs(np.corrcoef(h[:, 0, 1], h[:, 1, 2])[0, 1]) < 4 / np.sqrt(len(h))


def test_attention_indices_against_explicit_formula():
    rng = np.random.default_rng(1)
    tokens = rng.standard_normal((4, 3, 6))
    S = rng.standard_normal((6, 6))
    S = S + S.T
    expected = np.array([(X @ S @ X.T - np.trace(S) * np.eye(3)) / np.sqrt(6) for X in tokens])
    np.testing.assert_allclose(aim.attention_indices(tokens, S), expected, atol=1e-12)


def test_adjoint_against_explicit_sum():
    # sum_mu sum_{a<=b} G_ab A^{ab}_mu with A^{aa} = (x_a x_a^T - I)/sqrt(d),
    # A^{ab} = (x_a x_b^T + x_b x_a^T)/(2 sqrt(d)).
    rng = np.random.default_rng(2)
    n, T, d = 5, 3, 4
    tokens = rng.standard_normal((n, T, d))
    G = rng.standard_normal((n, T, T))
    G = G + np.swapaxes(G, 1, 2)
    expected = np.zeros((d, d))
    for mu in range(n):
        for a in range(T):
            for b in range(a, T):
                xa, xb = tokens[mu, a], tokens[mu, b]
                if a == b:
                    A = (np.outer(xa, xa) - np.eye(d)) / np.sqrt(d)
                else:
                    A = (np.outer(xa, xb) + np.outer(xb, xa)) / (2 * np.sqrt(d))
                expected += G[mu, a, b] * A
    np.testing.assert_allclose(aim._adjoint(tokens, G), expected, atol=1e-12)
    # Adjointness: <A(M), G> over a <= b entries equals <M, A*(G)>.
    M = rng.standard_normal((d, d))
    M = M + M.T
    h = aim.attention_indices(tokens, M)
    lhs = np.sum(np.triu(h * G))
    assert abs(lhs - np.sum(M * aim._adjoint(tokens, G))) < 1e-10


# -------------------------------------------------------------- channels
def test_softmax_observed_indices_recover_h_up_to_a_shift():
    rng = np.random.default_rng(3)
    h = rng.standard_normal((50, 4, 4))
    h = h + np.swapaxes(h, 1, 2)
    for beta in [0.3, 1.0, 4.0]:
        channel = aim.Softmax(4, beta=beta)
        shift = (h - channel.observed_indices(channel.sample(h))).reshape(50, -1)
        np.testing.assert_allclose(shift, shift[:, :1] * np.ones((1, 16)), atol=1e-9)


def test_softmax_g_out_is_blind_to_the_global_shift():
    rng = np.random.default_rng(4)
    h = rng.standard_normal((20, 3, 3))
    h = h + np.swapaxes(h, 1, 2)
    omega = h + 0.3 * rng.standard_normal((20, 3, 3))
    omega = 0.5 * (omega + np.swapaxes(omega, 1, 2))
    channel = aim.Softmax(3)
    y = channel.sample(h)
    G = channel.g_out(y, omega, 0.7)
    G_shift = channel.g_out(y, omega + 2.5, 0.7)
    np.testing.assert_allclose(G, G_shift, atol=1e-12)
    # The estimated h (omega + V K g) differs from the truth by a constant.
    diff = (omega + 0.7 * aim._K(3) * G - h).reshape(20, -1)
    np.testing.assert_allclose(diff, diff[:, :1] * np.ones((1, 9)), atol=1e-9)


@pytest.mark.parametrize("channel", [aim.Linear(1, noise=0.3), aim.Linear(3, noise=0.2),
                                     aim.Softmax(2), aim.Softmax(4, beta=2.0)])
def test_fisher_against_monte_carlo(channel):
    # E[g^T K g] with omega = sqrt(q) K^{1/2} xi, h = omega + sqrt(V) K^{1/2} z, y ~ P_out(.|h).
    rng = np.random.default_rng(5)
    q, V, n, T = 0.9, 0.6, 200_000, channel.T
    sqrtK = np.sqrt(aim._K(T))

    def sym_gauss():
        g = rng.standard_normal((n, T, T))
        return np.triu(g) + np.swapaxes(np.triu(g, 1), 1, 2)

    omega = np.sqrt(q) * sqrtK * sym_gauss()
    h = omega + np.sqrt(V) * sqrtK * sym_gauss()
    values = aim._quadratic_form(channel.g_out(channel.sample(h, rng), omega, V))
    mean, err = values.mean(), values.std() / np.sqrt(n)
    assert abs(mean - channel.fisher(q, V)) < 5 * err + 1e-12


def test_fisher_closed_forms():
    assert np.isclose(aim.Linear(3).fisher(0.2, 0.5), 3 * 4 / (2 * 0.5))
    assert np.isclose(aim.Softmax(3).fisher(0.2, 0.5), (9 + 3 - 2) / (2 * 0.5))
    assert aim.Softmax(5, beta=0.1).counting_constant == 28
    assert aim.Linear(2).counting_constant == 6 and aim.Linear(2, noise=0.1).counting_constant is None


# ------------------------------------------------------- state evolution
@pytest.mark.parametrize("channel", [aim.Linear(1), aim.Softmax(2), aim.Hardmax(),
                                     aim.Linear(2, noise=0.3)])
def test_se_starts_at_one_and_decreases(channel):
    alphas = np.linspace(0, 0.3, 16)
    se = aim.state_evolution(alphas, 0.5, channel)
    assert se.mse[0] == pytest.approx(1.0, abs=1e-9)
    assert np.all(np.diff(se.mse) <= 1e-12) and np.all(se.converged)
    assert se.mse.shape == alphas.shape and np.ndim(aim.state_evolution(0.1, 0.5, channel).mse) == 0


@pytest.mark.parametrize("rho", [0.25, 0.5, 1.0, 3.0])
def test_perfect_recovery_threshold(rho):
    channel = aim.Softmax(2)
    a_pr = aim.perfect_recovery_threshold(rho, channel)
    assert a_pr == pytest.approx((1 - max(1 - rho, 0) ** 2) / 4, abs=1e-15)
    se = aim.state_evolution(np.array([0.98 * a_pr, 1.02 * a_pr]), rho, channel)
    assert se.mse[0] > 0 and se.mse[1] == 0.0
    assert np.isnan(aim.perfect_recovery_threshold(rho, aim.Hardmax()))


def test_softmax_is_beta_independent_and_a_rescaled_quadratic_network():
    alphas = np.linspace(0, 0.25, 26)
    for rho in [0.3, 2.0]:
        soft = aim.state_evolution(alphas, rho, aim.Softmax(3, beta=0.2)).mse
        np.testing.assert_array_equal(soft, aim.state_evolution(alphas, rho, aim.Softmax(3, beta=7)).mse)
        quad = aim.state_evolution(10 * alphas / 2, rho, aim.Linear(1)).mse
        np.testing.assert_allclose(soft, quad, atol=1e-12)


@pytest.mark.parametrize("rho", [0.3, 0.5, 1.0, 2.5])
def test_iterated_se_equals_the_counting_equation(rho):
    # The closed form (solve_counting_equation) against the plain SE iteration
    # (tabulated Wishart denoising MMSE).
    alphas = np.array([0.02, 0.05, 0.1, 0.2])
    closed = aim.state_evolution(alphas, rho, aim.Linear(1)).mse
    iterated = aim.state_evolution(alphas, rho, _Iterated(1), tol=1e-13, max_iter=20000).mse
    np.testing.assert_allclose(iterated, closed, atol=2e-5)


def test_large_rho_limit():
    # rho -> infinity (GOE prior): MMSE = 1 - c alpha.
    alphas = np.array([0.05, 0.1, 0.3])
    se = aim.state_evolution(alphas, 1e4, aim.Linear(1))
    np.testing.assert_allclose(se.mse, 1 - 2 * alphas, atol=2e-3)


def test_small_width_limit_closed_form_and_iteration():
    alpha_bar = np.linspace(0, 0.7, 36)
    c = 4.0
    expected = np.where(c * alpha_bar <= 1, 1.0, 1 - np.minimum(c * alpha_bar - 1, 1) ** 2)
    closed = aim.small_width_state_evolution(alpha_bar, aim.Softmax(2)).mse
    np.testing.assert_allclose(closed, expected, atol=1e-12)

    class _IteratedSoftmax(aim.Softmax):
        counting_constant = None

    channel = _IteratedSoftmax(2)
    away = np.abs(c * alpha_bar - 1) > 0.05  # critical slowing down next to 1/c
    iterated = aim.small_width_state_evolution(alpha_bar[away], channel, tol=1e-14,
                                               max_iter=100000).mse
    np.testing.assert_allclose(iterated, expected[away], atol=1e-5)
    assert aim.weak_recovery_threshold(aim.Softmax(2)) == pytest.approx(0.25)


def test_finite_rho_tends_to_the_small_width_limit():
    alpha_bar = np.array([0.15, 0.35, 0.45])
    limit = aim.small_width_state_evolution(alpha_bar, aim.Softmax(2)).mse
    gaps = [np.max(np.abs(aim.state_evolution(alpha_bar * rho, rho, aim.Softmax(2)).mse - limit))
            for rho in [0.2, 0.05, 0.01]]
    # The approach is linear in rho (slowest next to t = 1, alpha_bar = 1/c).
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.08


def test_hardmax_has_no_perfect_recovery_and_released_variant_is_worse():
    alphas = np.array([0.1, 1.0, 10.0])
    exact = aim.state_evolution(alphas, 0.5, aim.Hardmax())
    released = aim.state_evolution(alphas, 0.5, aim.Hardmax(derivative="released"))
    assert np.all(exact.mse > 0) and np.all(exact.converged)
    assert np.all(released.mse > exact.mse)


def test_hardmax_uninformative_and_informative_starts_agree():
    # The AIM SE is iterated from q = rho; start instead next to Q0 (perfect knowledge).
    Q0, rho = 1.5, 0.5
    from aimnotes.solvers import fixed_point

    channel = aim.Hardmax()
    alphas = np.array([0.1, 0.5, 2.0])

    def step(q, a):
        return Q0 - aim._denoising_mmse(1 / (2 * a * channel.fisher(q, Q0 - q)), rho)

    q_inf, conv, _ = fixed_point(step, np.full(3, Q0 - 1e-3), (alphas,), damping=0.5,
                                 tol=1e-12, max_iter=5000)
    assert conv.all()
    np.testing.assert_allclose(Q0 - q_inf, aim.state_evolution(alphas, rho, channel).mse, atol=1e-8)


# ------------------------------------------------------------ bad input
def test_bad_input():
    with pytest.raises(ValueError, match="rho"):
        aim.state_evolution(0.1, 0.0, aim.Softmax(2))
    with pytest.raises(ValueError, match="rho"):
        aim.sample(10, 0.1, -1.0, aim.Softmax(2))
    with pytest.raises(ValueError, match="alpha"):
        aim.state_evolution(-0.1, 0.5, aim.Softmax(2))
    with pytest.raises(ValueError, match="alpha"):
        aim.state_evolution(np.nan, 0.5, aim.Softmax(2))
    with pytest.raises(ValueError, match="T"):
        aim.Linear(0)
    with pytest.raises(ValueError, match="T"):
        aim.Softmax(1)
    with pytest.raises(ValueError, match="T"):
        aim.Hardmax(T=3)
    with pytest.raises(ValueError, match="beta"):
        aim.Softmax(2, beta=0.0)
    tokens, y, S = aim.sample(20, 0.05, 0.5, aim.Softmax(2), rng=0)
    with pytest.raises(ValueError, match="tokens"):
        aim.gamp_rie(tokens[:, :1], y, 0.5, aim.Softmax(2))
    with pytest.raises(ValueError, match="y"):
        aim.gamp_rie(tokens, y[:-1], 0.5, aim.Softmax(2))
    with pytest.raises(ValueError, match="y"):
        aim.gamp_rie(tokens, np.ones_like(y), 0.5, aim.Softmax(2))
    with pytest.raises(ValueError, match="S"):
        aim.attention_indices(tokens, S[:-1])
    with pytest.raises(ValueError, match="rho"):
        aim.perfect_recovery_threshold(0.0, aim.Softmax(2))


def test_denoising_table_matches_rmt():
    deltas = np.logspace(-6, 6, 41)
    for rho in [0.3, 2.0]:
        exact = rmt.wishart_denoising_mmse(deltas, rho)
        np.testing.assert_allclose(aim._denoising_mmse(deltas, rho), exact, rtol=1e-4)


# -------------------------------------------------------------- GAMP-RIE
@pytest.mark.parametrize("channel, alpha", [(aim.Softmax(2), 0.07), (aim.Linear(1), 0.2),
                                            (aim.Hardmax(), 0.5), (aim.Softmax(3), 0.04)])
def test_gamp_rie_tracks_state_evolution(channel, alpha):
    rho, d = 0.5, 70
    theory = float(aim.state_evolution(alpha, rho, channel).mse)
    errors, predicted = [], []
    for seed in range(3):
        tokens, y, S = aim.sample(d, alpha, rho, channel, rng=seed)
        run = aim.gamp_rie(tokens, y, rho, channel, S_true=S)
        assert run.converged and np.all(np.isfinite(run.S_hat))
        assert np.allclose(run.S_hat, run.S_hat.T)
        errors.append(run.history["mse"][-1])
        predicted.append(run.variance)
    # Finite-size error of GAMP-RIE at d = 70: a few 1e-2 (it shrinks with d).
    assert abs(np.mean(errors) - theory) < 0.06, (errors, theory)
    # Its own predicted error (the SE variance) matches the measured one.
    assert abs(np.mean(predicted) - theory) < 1e-3
