"""Finite-size learners of the rules-and-facts model (aimnotes._raf_learners).

Every check compares with an independent computation: scikit-learn's Ridge
and KernelRidge, optimality conditions of the objective, Monte Carlo test
sets and random-feature Gram matrices, and the square-loss closed forms of
raf.md §3 written out here.
"""

import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from aimnotes import _raf_learners as raf

needs_sklearn = pytest.mark.skipif(find_spec("sklearn") is None,
                                   reason="scikit-learn (the erm extra) is not installed")


@pytest.fixture(scope="module")
def data():
    return raf.sample(200, 2.0, 0.2, rng=11)


# --------------------------------------------------------------------- data
def test_sample_shapes_and_labels():
    d, alpha, eps = 1000, 5.0, 0.3
    X, y, w_star, is_fact = raf.sample(d, alpha, eps, rng=0)
    n = int(round(alpha * d))
    assert X.shape == (n, d) and y.shape == (n,) and w_star.shape == (d,)
    assert is_fact.shape == (n,) and is_fact.dtype == bool
    assert set(np.unique(y)) == {-1.0, 1.0}
    assert abs(X.std() - 1) < 0.01 and abs(X.mean()) < 0.01
    # Bernoulli fact mask: fraction within 4 sigma of eps
    assert abs(is_fact.mean() - eps) < 4 * np.sqrt(eps * (1 - eps) / n)
    rule = np.sign(X @ w_star / np.sqrt(d))
    np.testing.assert_array_equal(y[~is_fact], rule[~is_fact])
    # facts carry fair coins: they agree with the rule half of the time
    agree = np.mean(y[is_fact] == rule[is_fact])
    assert abs(agree - 0.5) < 4 * 0.5 / np.sqrt(is_fact.sum())


def test_sample_extremes_and_rounding():
    _, y, _, is_fact = raf.sample(50, 1.0, 0.0, rng=1)
    assert not is_fact.any()
    _, _, _, is_fact = raf.sample(50, 1.0, 1.0, rng=1)
    assert is_fact.all()
    X, *_ = raf.sample(30, 0.51, 0.1, rng=1)
    assert X.shape == (15, 30)  # round(15.3)


def test_sample_deterministic():
    a = raf.sample(40, 1.5, 0.2, rng=3)
    b = raf.sample(40, 1.5, 0.2, rng=np.random.default_rng(3))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


# ------------------------------------------------------------------ square
@needs_sklearn
@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_ridge_matches_sklearn(alpha):
    from sklearn.linear_model import Ridge

    d, lam = 100, 0.7
    X, y, w_star, is_fact = raf.sample(d, alpha, 0.2, rng=2)
    model = raf.fit(X, y, lam, "square")
    # sklearn minimises |y - Aw|^2 + lam |w|^2 = 2 x (our sum objective)
    ref = Ridge(alpha=lam, fit_intercept=False, tol=1e-12).fit(X / np.sqrt(d), y).coef_
    np.testing.assert_allclose(model.w, ref, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model(X), X @ model.w / np.sqrt(d), rtol=1e-12)
    # stationarity of sum_mu (y - w.x/sqrt d)^2/2 + lam |w|^2/2
    A = X / np.sqrt(d)
    grad = A.T @ (A @ model.w - y) + lam * model.w
    assert np.linalg.norm(grad) < 1e-9 * np.linalg.norm(lam * model.w)


def test_ridgeless_min_norm_interpolation():
    d = 150
    X, y, w_star, is_fact = raf.sample(d, 0.6, 0.2, rng=4)
    model = raf.fit(X, y, 0.0, "square")
    A = X / np.sqrt(d)
    np.testing.assert_allclose(A @ model.w, y, atol=1e-9)
    np.testing.assert_allclose(model.w, np.linalg.pinv(A) @ y, atol=1e-9)
    err = raf.errors(model, X, y, is_fact, w_star)
    assert is_fact.any()
    assert err.mem_error == 0.0 and err.train_error_rule == 0.0
    # alpha > 1: ordinary least squares
    X, y, *_ = raf.sample(d, 2.0, 0.2, rng=4)
    A = X / np.sqrt(d)
    model = raf.fit(X, y, 0.0, "square")
    np.testing.assert_allclose(model.w, np.linalg.solve(A.T @ A, A.T @ y), rtol=1e-8)


# ----------------------------------------------------- hinge and logistic
@needs_sklearn
def test_hinge_small_lam_interpolates_separable_data():
    d = 200
    X, y, w_star, is_fact = raf.sample(d, 0.5, 0.2, rng=5)
    model = raf.fit(X, y, 0.0, "hinge")
    assert model.lam == raf.SMALL_LAM
    err = raf.errors(model, X, y, is_fact, w_star)
    assert is_fact.sum() > 5
    assert err.mem_error == 0.0 and err.train_error_rule == 0.0
    # hard-margin solution: every margin is >= 1 (up to the solver's tolerance)
    assert np.min(y * model(X)) > 1 - 1e-3


@needs_sklearn
def test_logistic_stationarity(data):
    X, y, w_star, is_fact = data
    d, lam = X.shape[1], 0.1
    model = raf.fit(X, y, lam, "logistic")
    A = X / np.sqrt(d)
    z = A @ model.w
    grad = -A.T @ (y * stats.logistic.cdf(-y * z)) + lam * model.w
    assert np.linalg.norm(grad) < 1e-4 * np.linalg.norm(lam * model.w)


@needs_sklearn
@pytest.mark.parametrize("loss", ["square", "hinge", "logistic"])
def test_linear_kernel_dual_equals_primal(data, loss):
    """Kernel path (eigen-features of K, no intercept) reproduces the linear fit."""
    X, y, *_ = data
    primal = raf.fit(X, y, 0.3, loss)
    dual = raf.fit(X, y, 0.3, loss, kernel="linear")
    assert dual.kind == "kernel" and dual.is_linear
    np.testing.assert_allclose(dual.w, primal.w, atol=1e-5 * np.abs(primal.w).max())
    Xt = np.random.default_rng(0).standard_normal((50, X.shape[1]))
    np.testing.assert_allclose(dual(Xt), primal(Xt), atol=1e-5 * np.abs(primal(Xt)).max())


# ------------------------------------------------------------------ metrics
@needs_sklearn
def test_exact_gen_error_matches_test_set(data):
    X, y, w_star, is_fact = data
    model = raf.fit(X, y, 1.0, "hinge")
    exact = raf.errors(model, X, y, is_fact, w_star)
    mc = raf.errors(model, X, y, is_fact, w_star, test_set=True, n_test=200_000, rng=1)
    assert exact.gen_error_stderr == 0.0 and mc.gen_error_stderr > 0
    assert abs(exact.gen_error - mc.gen_error) < 3 * mc.gen_error_stderr
    assert exact.mem_error == mc.mem_error
    d = X.shape[1]
    assert exact.m == pytest.approx(model.w @ w_star / d)
    assert exact.q == pytest.approx(model.w @ model.w / d)


def test_errors_definitions(data):
    X, y, w_star, is_fact = data
    model = raf.fit(X, y, 1.0, "square")
    err = raf.errors(model, X, y, is_fact, w_star)
    wrong = y * (X @ model.w) < 0
    assert err.mem_error == pytest.approx(wrong[is_fact].mean())
    assert err.train_error_rule == pytest.approx(wrong[~is_fact].mean())
    no_facts = raf.errors(model, X, y, np.zeros_like(is_fact), w_star)
    assert np.isnan(no_facts.mem_error)


# ------------------------------------------------------------------ kernels
def test_kernel_matrices_against_definitions():
    rng = np.random.default_rng(6)
    d = 40
    X1, X2 = rng.standard_normal((5, d)), rng.standard_normal((4, d))
    cos = (X1 @ X2.T) / np.outer(np.linalg.norm(X1, axis=1), np.linalg.norm(X2, axis=1))
    np.testing.assert_allclose(raf.kernel_matrix(X1, X2, "sign"), 2 / np.pi * np.arcsin(cos))
    np.testing.assert_allclose(np.diag(raf.kernel_matrix(X1, X1, "sign")), 1.0)
    np.testing.assert_allclose(raf.kernel_matrix(X1, X2, "linear"), X1 @ X2.T / d)
    sq = ((X1[:, None, :] - X2[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(raf.kernel_matrix(X1, X2, "rbf", gamma=0.3), np.exp(-0.3 * sq / d))
    # sign and relu kernels are E_f[sigma(f.x/sqrt d) sigma(f.x'/sqrt d)]
    F = rng.standard_normal((400_000, d))
    for name, sigma in [("sign", np.sign), ("relu", lambda z: np.maximum(z, 0))]:
        P1, P2 = sigma(X1 @ F.T / np.sqrt(d)), sigma(X2 @ F.T / np.sqrt(d))
        mc = P1 @ P2.T / F.shape[0]
        np.testing.assert_allclose(raf.kernel_matrix(X1, X2, name), mc, atol=8e-3)


@needs_sklearn
@pytest.mark.parametrize("kernel", ["sign", "relu", "rbf"])
def test_krr_matches_sklearn_kernel_ridge(data, kernel):
    from sklearn.kernel_ridge import KernelRidge

    X, y, w_star, is_fact = data
    model = raf.fit(X, y, 0.2, "square", kernel=kernel, gamma=0.5)
    K = raf.kernel_matrix(X, X, kernel, gamma=0.5)
    ref = KernelRidge(alpha=0.2, kernel="precomputed").fit(K, y)
    np.testing.assert_allclose(model.coef, ref.dual_coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model(X), K @ ref.dual_coef_, rtol=1e-8, atol=1e-10)


def test_ridgeless_sign_krr_memorises_everything():
    X, y, w_star, is_fact = raf.sample(100, 3.0, 0.3, rng=7)  # beyond alpha = 1
    err = raf.errors(raf.fit(X, y, 0.0, "square", kernel="sign"), X, y, is_fact, w_star,
                     n_test=2000, rng=0)
    assert err.mem_error == 0.0 and err.train_error_rule == 0.0
    assert np.isnan(err.m) and np.isnan(err.q)


@needs_sklearn
@pytest.mark.parametrize("loss", ["hinge", "logistic"])
def test_kernel_margin_losses_optimality(data, loss):
    """Kernel hinge/logistic satisfy the representer stationarity condition."""
    X, y, *_ = data
    lam = 0.5
    model = raf.fit(X, y, lam, loss, kernel="sign")
    z = model(X)
    if loss == "logistic":
        # beta = sum-loss gradient / lam: beta_mu = y_mu sigma(-y_mu z_mu) / lam
        np.testing.assert_allclose(model.coef, y * stats.logistic.cdf(-y * z) / lam, atol=1e-5)
    else:
        # beta_mu = y_mu a_mu / lam with a_mu = 1 (margin < 1), 0 (margin > 1)
        a = y * model.coef * lam
        margin = y * z
        assert np.all(a > -1e-6) and np.all(a < 1 + 1e-6)
        assert np.all(np.abs(a[margin < 1 - 1e-3] - 1) < 1e-3)
        assert np.all(np.abs(a[margin > 1 + 1e-3]) < 1e-3)


@needs_sklearn
def test_random_features_approach_sign_krr():
    X, y, w_star, is_fact = raf.sample(100, 2.0, 0.2, rng=8)
    krr = raf.fit(X, y, 0.1, "square", kernel="sign")
    rf = raf.fit(X, y, 0.1, "square", random_features=60.0, rng=123)  # p = 6000
    assert rf.features.shape == (6000, 100)
    Xt = np.random.default_rng(9).standard_normal((3000, 100))
    assert np.corrcoef(krr(Xt), rf(Xt))[0, 1] > 0.95
    e_krr = raf.errors(krr, X, y, is_fact, w_star, n_test=5000, rng=10)
    e_rf = raf.errors(rf, X, y, is_fact, w_star, n_test=5000, rng=10)  # same test set
    assert abs(e_krr.gen_error - e_rf.gen_error) < 0.03
    # p < n: random features with ReLU, int p, hinge loss run and are deterministic
    a = raf.fit(X, y, 0.1, "hinge", random_features=50, feature_map="relu", rng=1)
    b = raf.fit(X, y, 0.1, "hinge", random_features=50, feature_map="relu", rng=1)
    np.testing.assert_array_equal(a.coef, b.coef)
    assert a.features.shape == (50, 100) and a.w is None


# -------------------------------------------------------------- simulations
def _square_theory(alpha, eps, lam):
    """raf.md §3 closed forms: (gen, mem, train_rule, m, q) for ridge at lam > 0."""
    c = (1 - eps) * np.sqrt(2 / np.pi)
    b = lam + alpha - 1
    V = (-b + np.sqrt(b * b + 4 * lam)) / (2 * lam)
    m = alpha * c * V / (1 + V)
    m_hat = alpha * c / (1 + V)
    rhs = V**2 * (m_hat**2 + alpha * (1 - 2 * c * m) / (1 + V) ** 2)
    q = rhs / (1 - alpha * V**2 / (1 + V) ** 2)
    a, r = V / np.sqrt(q), m / np.sqrt(q)

    def integrand(x):
        return stats.norm.pdf(x) * stats.norm.cdf(r * x / np.sqrt(1 - r * r))

    rule = 2 * integrate.quad(integrand, -np.inf, -a)[0]
    return np.arccos(r) / np.pi, stats.norm.cdf(-a), rule, m, q


def test_simulate_square_loss_matches_closed_forms():
    alphas, eps, lam = [0.5, 2.0], 0.2, 1.0
    sim = raf.simulate(600, alphas, eps, lam, "square", n_seeds=4, rng=12)
    assert sim.gen_error.shape == (4, 2)
    for j, alpha in enumerate(alphas):
        theory = dict(zip(("gen_error", "mem_error", "train_error_rule", "m", "q"),
                          _square_theory(alpha, eps, lam)))
        for name, value in theory.items():
            tol = 4 * sim.stderr(name)[j] + 0.01 + 0.05 * abs(value)
            assert abs(sim.mean(name)[j] - value) < tol, (name, alpha, sim.mean(name)[j], value)
    # ridgeless, alpha < 1: m = alpha c, q = alpha (1 - alpha c^2)/(1 - alpha), E_mem = 0
    sim0 = raf.simulate(600, [0.5], eps, 0.0, "square", n_seeds=3, rng=13)
    c, alpha = (1 - eps) * np.sqrt(2 / np.pi), 0.5
    assert sim0.mean("m")[0] == pytest.approx(alpha * c, abs=0.03)
    assert sim0.mean("q")[0] == pytest.approx(alpha * (1 - alpha * c * c) / (1 - alpha), abs=0.05)
    assert np.all(sim0.mem_error == 0.0)


@needs_sklearn
def test_simulate_reuses_one_draw_per_seed():
    d, alphas = 60, [0.5, 1.5]
    sim = raf.simulate(d, alphas, 0.2, 0.5, "hinge", n_seeds=2, rng=14)
    # Seed s draws everything from its own child of SeedSequence(14) (aimnotes.sweep).
    children = np.random.SeedSequence(14).spawn(2)
    for s in range(2):
        rng = np.random.default_rng(children[s])
        X, y, w_star, is_fact = raf.sample(d, 1.5, 0.2, rng=rng)
        for j, alpha in enumerate(alphas):
            n = int(round(alpha * d))
            model = raf.fit(X[:n], y[:n], 0.5, "hinge", rng=rng)
            err = raf.errors(model, X[:n], y[:n], is_fact[:n], w_star, rng=rng)
            assert sim.gen_error[s, j] == err.gen_error
            assert sim.mem_error[s, j] == err.mem_error
            assert sim.q[s, j] == err.q
    assert sim.mean("gen_error").shape == (2,) and sim.stderr("gen_error").shape == (2,)


def test_simulate_deterministic_and_kernel_fields():
    kw = dict(n_seeds=2, n_test=500, kernel="sign")
    a = raf.simulate(50, [0.5, 1.0], 0.3, 0.1, "square", rng=15, **kw)
    b = raf.simulate(50, [0.5, 1.0], 0.3, 0.1, "square", rng=15, **kw)
    np.testing.assert_array_equal(a.gen_error, b.gen_error)
    np.testing.assert_array_equal(a.mem_error, b.mem_error)
    assert np.all(np.isnan(a.m)) and np.all(np.isnan(a.q))
    one = raf.simulate(50, [1.0], 0.3, 0.1, "square", n_seeds=1, rng=0)
    assert one.stderr("gen_error")[0] == 0.0


# --------------------------------------------------------------- bad input
def test_bad_inputs():
    X, y, w_star, is_fact = raf.sample(20, 1.0, 0.2, rng=0)
    with pytest.raises(ValueError, match="eps"):
        raf.sample(20, 1.0, 1.5)
    with pytest.raises(ValueError, match="eps"):
        raf.simulate(20, [1.0], -0.1, 1.0)
    with pytest.raises(ValueError, match="d"):
        raf.sample(0, 1.0, 0.1)
    with pytest.raises(ValueError, match="lam"):
        raf.fit(X, y, -1.0)
    with pytest.raises(ValueError, match=r"loss.*hinge.*logistic.*square"):
        raf.fit(X, y, 1.0, "huber")
    with pytest.raises(ValueError, match="kernel"):
        raf.fit(X, y, 1.0, kernel="poly")
    with pytest.raises(ValueError, match="feature_map"):
        raf.fit(X, y, 1.0, random_features=10, feature_map="tanh")
    with pytest.raises(ValueError, match="exclusive"):
        raf.fit(X, y, 1.0, kernel="sign", random_features=10)
    with pytest.raises(ValueError, match="random_features"):
        raf.fit(X, y, 1.0, random_features=0)
    with pytest.raises(ValueError, match="y must have shape"):
        raf.fit(X, y[:-1], 1.0)
    with pytest.raises(ValueError, match="X must be a 2-d"):
        raf.fit(X[0], y, 1.0)
    with pytest.raises(ValueError, match="-1 and \\+1"):
        raf.fit(X, 2 * y, 1.0, "hinge")
    with pytest.raises(ValueError, match="gamma"):
        raf.fit(X, y, 1.0, kernel="rbf", gamma=0.0)
    model = raf.fit(X, y, 1.0)
    with pytest.raises(ValueError, match="is_fact"):
        raf.errors(model, X, y, is_fact[:-1], w_star)
    with pytest.raises(ValueError, match="w_star"):
        raf.errors(model, X, y, is_fact, w_star[:-1])
    with pytest.raises(ValueError, match="columns"):
        model(X[:, :-1])
    with pytest.raises(ValueError, match="alphas"):
        raf.simulate(20, [0.01], 0.1, 1.0)


def test_imports_and_fits_without_sklearn():
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "from aimnotes import _raf_learners as raf\n"
        "X, y, w, f = raf.sample(30, 1.0, 0.2, rng=0)\n"
        "raf.errors(raf.fit(X, y, 1.0, kernel='sign'), X, y, f, w, n_test=100, rng=0)\n"
        "try:\n"
        "    raf.fit(X, y, 1.0, 'hinge')\n"
        "except ImportError:\n"
        "    print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=str(Path(raf.__file__).parents[1]))
    assert out.stdout.strip() == "ok"


def test_public_names():
    for name in raf.__all__:
        assert hasattr(raf, name)
