"""Rules-and-facts model: ERM / kernel / random-features state evolution, BO, capacities.

Every assertion compares with a value computed independently of the code
path under test: closed forms against the generic-prox iteration, scipy
quadrature with a brute-force proximal operator, linear programs on
finite data, or the perceptron state evolution of :mod:`aimnotes.glm`.
"""

import warnings

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from aimnotes import glm, raf
from aimnotes.channels import Sign
from aimnotes.priors import Gaussian
from aimnotes.raf import _erm_prox_se
from aimnotes.solvers import ConvergenceWarning

SIGN_MU1, SIGN_MUS = np.sqrt(2 / np.pi), np.sqrt(1 - 2 / np.pi)
FIELDS = ("m", "q", "V", "m_hat", "q_hat", "V_hat", "gen_error", "mem_error",
          "train_error_rule")


def _c(eps):
    return (1 - eps) * np.sqrt(2 / np.pi)


# ------------------------------------------------------------- square loss
@pytest.mark.parametrize("lam", [0.0, 0.01, 0.3, 2.0])
def test_square_closed_form_equals_generic_prox(lam):
    alpha = np.array([0.3, 0.8, 1.5, 4.0])[:, None]
    eps = np.array([0.0, 0.3, 0.8])
    closed = raf.erm_state_evolution(alpha, eps, lam)
    prox = _erm_prox_se(alpha, eps, lam, "square", tol=1e-13)
    assert closed.gen_error.shape == (4, 3) and prox.converged.all()
    np.testing.assert_array_equal(closed.rescaled, prox.rescaled)
    for name in FIELDS:
        np.testing.assert_allclose(getattr(prox, name), getattr(closed, name), rtol=1e-8,
                                   atol=1e-9, err_msg=name)


@pytest.mark.parametrize("lam", [0.0, 0.05, 0.5])
def test_square_kernel_closed_form_equals_generic_prox(lam):
    alpha = np.array([0.5, 1.5, 3.0])
    closed = raf.erm_state_evolution(alpha, 0.2, lam, mu1=0.7, mu_star=0.5)
    prox = _erm_prox_se(alpha, 0.2, lam, "square", mu1=0.7, mu_star=0.5, tol=1e-13)
    for name in FIELDS:
        np.testing.assert_allclose(getattr(prox, name), getattr(closed, name), rtol=1e-8,
                                   atol=1e-9, err_msg=name)


def test_square_V_independent_of_eps():
    alpha, lam = np.array([0.5, 1.0, 3.0]), 0.2
    eps = np.array([0.0, 0.3, 0.9])[:, None]
    V = raf.erm_state_evolution(alpha, eps, lam).V
    np.testing.assert_allclose(V, np.broadcast_to(V[0], V.shape), rtol=1e-14)
    Vp = _erm_prox_se(alpha, eps, lam, "square", tol=1e-13).V
    np.testing.assert_allclose(Vp, np.broadcast_to(V[0], V.shape), rtol=1e-9)
    assert raf.erm_state_evolution(1.0, 0.4, 1.0).V == pytest.approx((np.sqrt(5) - 1) / 2,
                                                                    rel=1e-14)


def test_square_ridgeless_both_sides_of_interpolation():
    eps = 0.25
    c = _c(eps)
    a = np.array([0.2, 0.5, 0.9])
    se = raf.erm_state_evolution(a, eps, 0.0)
    assert se.rescaled.all()
    np.testing.assert_allclose(se.m, a * c, rtol=1e-13)
    np.testing.assert_allclose(se.q, a * (1 - a * c**2) / (1 - a), rtol=1e-12)
    np.testing.assert_allclose(se.V, 1 - a, rtol=1e-13)  # V_bar = lambda V
    np.testing.assert_allclose(
        se.gen_error, np.arccos(c * np.sqrt(a * (1 - a) / (1 - a * c**2))) / np.pi, rtol=1e-12)
    assert np.all(se.mem_error == 0) and np.all(se.train_error_rule == 0)
    b = np.array([1.2, 2.0, 10.0])
    se = raf.erm_state_evolution(b, eps, 0.0)
    assert not se.rescaled.any()
    np.testing.assert_allclose(se.V, 1 / (b - 1), rtol=1e-13)
    np.testing.assert_allclose(se.m, c, rtol=1e-13)
    np.testing.assert_allclose(se.q, c**2 + (1 - c**2) / (b - 1), rtol=1e-12)
    # continuity: a tiny ridge approaches the ridgeless limit on both sides
    both = np.concatenate([a, b])
    small = raf.erm_state_evolution(both, eps, 1e-9)
    np.testing.assert_allclose(small.gen_error, raf.erm_state_evolution(both, eps, 0).gen_error,
                               atol=1e-6)
    # the interpolation peak
    assert raf.erm_state_evolution([0.999999, 1.0], eps, 0.0).gen_error == pytest.approx(0.5,
                                                                                    abs=1e-3)


def test_optimal_lambda_minimises_gen_error():
    lam_grid = np.geomspace(1e-3, 1e2, 501)
    for eps in (0.0, 0.1, 0.4):
        lam_opt = raf.optimal_lambda(eps)
        assert lam_opt == pytest.approx(np.pi / (2 * (1 - eps) ** 2) - 1, rel=1e-14)
        for alpha in (0.5, 2.0, 6.0):
            grid = raf.erm_state_evolution(alpha, eps, lam_grid).gen_error
            best = raf.erm_state_evolution(alpha, eps, lam_opt).gen_error
            assert best <= grid.min() + 1e-13
            k = np.argmin(grid)
            assert lam_grid[max(k - 1, 0)] <= lam_opt <= lam_grid[min(k + 1, lam_grid.size - 1)]


def test_square_large_alpha_rate():
    for eps in (0.0, 0.3):
        C = np.sqrt(raf.optimal_lambda(eps)) / np.pi
        for lam in (0.1, 1.0):
            a = np.array([1e4, 1e6])
            ratio = np.sqrt(a) * raf.erm_state_evolution(a, eps, lam).gen_error / C
            assert abs(ratio[1] - 1) < 2e-3 and abs(ratio[1] - 1) < abs(ratio[0] - 1) + 1e-12


# ------------------------------------------------------------ error formulas
def _loss(name, y, z):
    t = y * z
    if name == "square":
        return 0.5 * (1 - t) ** 2
    if name == "hinge":
        return max(0.0, 1 - t)
    return np.logaddexp(0.0, -t)


def _brute_prox(name, y, omega, V):
    """Prox by scalar minimisation: independent of the module's tables."""
    lo, hi = min(omega, omega + V * y) - 1.0, max(omega, omega + V * y) + 1.0
    res = optimize.minimize_scalar(lambda z: _loss(name, y, z) + (z - omega) ** 2 / (2 * V),
                                   bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-11})
    return res.x


def _brute_errors(name, m, q, V):
    sq, r = np.sqrt(q), m / np.sqrt(q)
    s = np.sqrt(1 - r * r)
    mem = tr = 0.0
    for y in (-1.0, 1.0):
        def wrong(xi, y=y):
            return float(y * _brute_prox(name, y, sq * xi, V) < 0)

        def f_mem(xi):
            return stats.norm.pdf(xi) * wrong(xi)

        def f_tr(xi, y=y):
            return stats.norm.pdf(xi) * stats.norm.cdf(y * r * xi / s) * wrong(xi)

        kw = dict(epsabs=1e-10, epsrel=1e-8, limit=400)
        mem += 0.5 * integrate.quad(f_mem, -12, 12, **kw)[0]
        tr += integrate.quad(f_tr, -12, 12, **kw)[0]
    return mem, tr


@pytest.mark.parametrize("loss", ["square", "hinge", "logistic"])
def test_mem_and_rule_training_errors_brute_force(loss):
    se = raf.erm_state_evolution(np.array([1.5, 3.0]), 0.3, 0.1, loss)
    assert se.converged.all()
    for k in range(2):
        mem, tr = _brute_errors(loss, se.m[k], se.q[k], se.V[k])
        assert se.mem_error[k] == pytest.approx(mem, abs=1e-6)
        assert se.train_error_rule[k] == pytest.approx(tr, abs=1e-6)
    assert se.mem_error[1] > 0.05  # a non-trivial check


# ------------------------------------------------------------ hinge/logistic
def test_prox_quadrature_converged():
    a = np.array([0.7, 2.0, 5.0])
    for loss, lam in (("hinge", 0.01), ("hinge", 0.0), ("logistic", 0.01), ("logistic", 1.0)):
        a = a if lam else a * raf.separability_threshold(0.2) / 5.5  # stay separable
        base = _erm_prox_se(a, 0.2, lam, loss)
        fine = _erm_prox_se(a, 0.2, lam, loss, n_gl=80)
        np.testing.assert_allclose(fine.gen_error, base.gen_error, atol=1e-9)
        np.testing.assert_allclose(fine.q, base.q, rtol=1e-8)


def test_logistic_prox_solves_its_equation():
    omega = np.linspace(-80, 20, 5001)[:, None]
    V = np.array([1e-3, 0.5, 5.0, 45.5, 500.0])
    h, dh = raf.logistic_prox(omega, V)
    np.testing.assert_allclose(h, omega + V / (1 + np.exp(h)), atol=1e-10, rtol=1e-12)
    # derivative against a finite difference
    d = 1e-6
    fd = (raf.logistic_prox(omega + d, V)[0] - raf.logistic_prox(omega - d, V)[0]) / (2 * d)
    np.testing.assert_allclose(dh, fd, atol=1e-6)


def test_hard_margin_limit_matches_small_lambda():
    a = np.array([0.5, 1.0, 2.0])  # below alpha_sep(0.3) = 2.61
    hard = raf.erm_state_evolution(a, 0.3, 0.0, "hinge")
    soft = raf.erm_state_evolution(a, 0.3, 1e-5, "hinge")
    assert hard.rescaled.all() and hard.converged.all()
    np.testing.assert_allclose(hard.gen_error, soft.gen_error, atol=1e-5)
    assert np.all(hard.mem_error == 0) and np.all(soft.mem_error < 1e-6)
    # logistic at lam -> 0+ is the same max-margin direction
    logi = raf.erm_state_evolution(a, 0.3, 0.0, "logistic")
    np.testing.assert_allclose(logi.gen_error, hard.gen_error, rtol=1e-12)


def test_lam_zero_beyond_separability_is_flagged():
    with pytest.warns(ConvergenceWarning, match="separab"):
        se = raf.erm_state_evolution([1.0, 4.0], 0.3, 0.0, "hinge")
    assert se.converged[0] and not se.converged[1]
    assert np.isnan(se.gen_error[1]) and np.isfinite(se.gen_error[0])


def test_vectorised_equals_scalar_loop():
    alpha, lam = np.array([0.6, 2.5]), np.array([[0.05], [1.0]])
    for loss in ("hinge", "logistic"):
        grid = raf.erm_state_evolution(alpha, 0.2, lam, loss)
        assert grid.gen_error.shape == (2, 2)
        for i in range(2):
            for j in range(2):
                one = raf.erm_state_evolution(alpha[j], 0.2, lam[i, 0], loss)
                assert np.ndim(one.gen_error) == 0
                for name in ("m", "q", "V", "gen_error", "mem_error"):
                    assert getattr(one, name) == pytest.approx(getattr(grid, name)[i, j],
                                                               rel=1e-12, abs=1e-14)


# ------------------------------------------------------------------- kernels
def test_krr_equals_linear_ridge_at_effective_lambda():
    alpha = np.array([0.4, 1.0, 3.0, 8.0])
    for mu1, mus, lam in ((SIGN_MU1, SIGN_MUS, 0.1), (0.5, 0.3, 1.0), (1.2, 0.8, 0.0)):
        krr = raf.erm_state_evolution(alpha, 0.3, lam, mu1=mu1, mu_star=mus)
        lin = raf.erm_state_evolution(alpha, 0.3, (lam + mus**2) / mu1**2)
        np.testing.assert_allclose(krr.gen_error, lin.gen_error, rtol=1e-12)
        prox = _erm_prox_se(alpha, 0.3, lam, "square", mu1=mu1, mu_star=mus, tol=1e-13)
        np.testing.assert_allclose(prox.gen_error, lin.gen_error, atol=1e-9)


def test_ridgeless_krr_memorises_every_fact():
    alpha = np.array([0.5, 2.0, 5.0, 20.0])
    for loss in ("square", "hinge"):
        se = raf.erm_state_evolution(alpha, 0.3, 0.0, loss, mu1=SIGN_MU1, mu_star=SIGN_MUS)
        assert se.rescaled.all() and se.converged.all()
        assert np.all(se.mem_error == 0) and np.all(se.train_error_rule == 0)
    # sign kernel: mu_star^2/mu1^2 = pi/2 - 1 = lam_opt(0)
    sq = raf.erm_state_evolution(alpha, 0.0, 0.0, mu1=SIGN_MU1, mu_star=SIGN_MUS)
    opt = raf.erm_state_evolution(alpha, 0.0, raf.optimal_lambda(0.0))
    np.testing.assert_allclose(sq.gen_error, opt.gen_error, rtol=1e-12)


def test_random_features_tend_to_kernel():
    kernel = raf.erm_state_evolution(2.0, 0.2, 0.1, mu1=SIGN_MU1, mu_star=SIGN_MUS)
    rf = raf.random_features_state_evolution(2.0, 0.2, 0.1, np.array([10.0, 100.0, 1000.0]))
    assert rf.converged.all()
    gap = np.abs(rf.gen_error - kernel.gen_error)
    assert np.all(np.diff(gap) < 0) and gap[-1] < 1e-3
    assert rf.V[-1] == pytest.approx(kernel.V, rel=1e-2)
    # the same channel serves the hinge loss
    rfh = raf.random_features_state_evolution(2.0, 0.2, 0.1, [1.0, 1000.0], "hinge")
    kh = raf.erm_state_evolution(2.0, 0.2, 0.1, "hinge", mu1=SIGN_MU1, mu_star=SIGN_MUS)
    assert rfh.converged.all() and abs(rfh.gen_error[-1] - kh.gen_error) < 1e-3


def test_random_features_square_interpolation_peak():
    # ridgeless-ish square loss peaks where p = n (kappa_rf = alpha)
    kappa = np.array([0.5, 1.0, 2.0])
    rf = raf.random_features_state_evolution(1.0, 0.0, 1e-4, kappa)
    assert rf.gen_error[1] > rf.gen_error[0] and rf.gen_error[1] > rf.gen_error[2]


# ---------------------------------------------------------------- capacities
def test_gardner_capacity():
    assert raf.gardner_capacity(0.0) == pytest.approx(2.0, rel=1e-15)
    for k in (-0.7, 0.5, 2.0):
        g = integrate.quad(lambda t: stats.norm.pdf(t) * (t + k) ** 2, -k, np.inf,
                           epsabs=1e-13)[0]
        assert raf.gardner_capacity(k) == pytest.approx(1 / g, rel=1e-10)


def _sep_quad(eps):
    """alpha_sep from the notes' integral form, by quad and a scalar minimiser."""
    G = lambda k: (1 + k * k) * stats.norm.cdf(k) + k * stats.norm.pdf(k)  # noqa: E731

    def half(c):  # int_0^inf phi(nu) G(c nu) dnu
        return integrate.quad(lambda n: stats.norm.pdf(n) * G(c * n), 0, np.inf,
                              epsabs=1e-13)[0]

    def bracket(t):
        return (1 - eps) * 2 * half(-t) + eps * (half(t) + half(-t))

    res = optimize.minimize_scalar(bracket, bounds=(0, 50), method="bounded",
                                   options={"xatol": 1e-10})
    return 1 / res.fun


def test_separability_threshold():
    eps = np.array([0.0, 0.05, 0.3, 0.6, 1.0])
    a = raf.separability_threshold(eps)
    assert a[0] == np.inf and a[-1] == pytest.approx(2.0, rel=1e-14)
    assert np.all(a >= 2) and np.all(np.diff(a) < 0)
    for e, v in zip(eps[1:-1], a[1:-1]):
        assert v == pytest.approx(_sep_quad(e), rel=1e-7)
    assert raf.separability_threshold(1e-6) > 100


def test_separability_lp_flips_across_threshold():
    d, eps = 150, 0.3
    a_sep = raf.separability_threshold(eps)
    rng = np.random.default_rng(7)
    feasible = {0.8: [], 1.25: []}
    for factor in feasible:
        for _ in range(3):
            n = int(round(factor * a_sep * d))
            X = rng.standard_normal((n, d))
            nu = X @ rng.standard_normal(d)
            fact = rng.random(n) < eps
            y = np.where(fact, rng.choice([-1.0, 1.0], n), np.sign(nu))
            res = optimize.linprog(np.zeros(d), A_ub=-(y[:, None] * X), b_ub=-np.ones(n),
                                   bounds=[(None, None)] * d, method="highs")
            feasible[factor].append(res.status == 0)
    assert all(feasible[0.8]) and not any(feasible[1.25])


# ------------------------------------------------------------- Bayes-optimal
def test_bayes_optimal_eps_zero_is_spherical_perceptron():
    alpha = np.array([0.3, 1.0, 3.0, 20.0])
    bo = raf.bayes_optimal(alpha, 0.0)
    ref = glm.state_evolution(alpha, Gaussian(), Sign())
    np.testing.assert_allclose(bo.gen_error, ref.gen_error, atol=1e-10)
    np.testing.assert_allclose(bo.q, ref.q, atol=1e-10)


def test_bayes_optimal_q_hat_against_quad():
    bo = raf.bayes_optimal(np.array([0.7, 5.0]), 0.3)
    for a, q, qh in zip(bo.alpha, bo.q, bo.q_hat):
        def z(y, w, V):
            return 0.5 * (1 + 0.7 * y * special.erf(w / np.sqrt(2 * V)))

        def integrand(xi):
            w, V = np.sqrt(q) * xi, 1 - q
            dz = 0.7 * np.exp(-w * w / (2 * V)) / np.sqrt(2 * np.pi * V)  # |d_omega Z|
            return stats.norm.pdf(xi) * sum(dz**2 / z(y, w, V) for y in (-1, 1))

        ref = a * integrate.quad(integrand, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-11)[0]
        assert qh == pytest.approx(ref, rel=1e-8)
        assert q == pytest.approx(qh / (1 + qh), rel=1e-11)


def test_bayes_optimal_below_every_erm():
    alpha, eps = np.array([0.5, 1.0, 2.0, 4.0]), 0.2
    bo = raf.bayes_optimal(alpha, eps).gen_error
    erm = [raf.erm_state_evolution(alpha, eps, raf.optimal_lambda(eps)).gen_error]
    for loss in ("hinge", "logistic"):
        erm.append(raf.erm_state_evolution(alpha, eps, np.array([[0.01], [0.3], [3.0]]),
                                           loss).gen_error)
    for e in erm:
        assert np.all(e > bo)


def test_bayes_optimal_large_alpha():
    for eps in (0.0, 0.3):
        # J = int ds e^{-s^2}/(1 + (1-eps) erf(s/sqrt2)), written without underflow
        J = integrate.quad(lambda s: np.exp(-s * s / 2) / (
            eps * np.exp(s * s / 2) + (1 - eps) * special.erfcx(-s / np.sqrt(2))),
            -30, 30, epsabs=1e-13, limit=200)[0]
        c_bo = np.sqrt(2 * np.pi) / (2 * (1 - eps) ** 2 * J)
        bo = raf.bayes_optimal(np.array([30.0, 1e3]), eps)
        ratio = bo.alpha * bo.gen_error / c_bo
        assert bo.converged.all()
        assert abs(ratio[1] - 1) < 1e-4 < abs(ratio[0] - 1) < 0.05


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, name", [
    (lambda: raf.erm_state_evolution(1.0, 1.2, 0.1), "eps"),
    (lambda: raf.erm_state_evolution(1.0, -0.1, 0.1), "eps"),
    (lambda: raf.erm_state_evolution(1.0, 0.1, -0.1), "lam"),
    (lambda: raf.erm_state_evolution(-1.0, 0.1, 0.1), "alpha"),
    (lambda: raf.erm_state_evolution(np.nan, 0.1, 0.1), "alpha"),
    (lambda: raf.erm_state_evolution(1.0, 0.1, 0.1, "huber"), "loss"),
    (lambda: raf.erm_state_evolution(1.0, 0.1, 0.1, mu1=0.0), "mu1"),
    (lambda: raf.random_features_state_evolution(1.0, 0.1, 0.1, 0.0), "kappa_rf"),
    (lambda: raf.random_features_state_evolution(1.0, 0.1, 0.0, 1.0), "lam"),
    (lambda: raf.bayes_optimal(1.0, np.nan), "eps"),
    (lambda: raf.bayes_optimal(-1.0, 0.2), "alpha"),
    (lambda: raf.separability_threshold(1.5), "eps"),
    (lambda: raf.optimal_lambda(-0.5), "eps"),
])
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_unknown_loss_lists_valid_ones():
    with pytest.raises(ValueError, match="hinge.*logistic.*square"):
        raf.erm_state_evolution(1.0, 0.1, 0.1, "huber")


def test_no_warning_in_regular_use():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        raf.erm_state_evolution(np.linspace(0.1, 5, 7), 0.3, 0.1, "logistic")
        raf.bayes_optimal(np.linspace(0, 5, 7), 0.3)
