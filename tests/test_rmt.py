"""Wishart denoising by free convolution: spectra, MMSE, RIE, counting equation.

Every assertion compares with a value computed independently of the code
path under test: closed forms and limits, scipy quadrature of the density,
a composite quadrature much finer than the package's, the discriminant of the
cubic computed by polynomial arithmetic, or Monte Carlo on sampled matrices.
"""

import numpy as np
import pytest
from scipy import integrate

from aimnotes import rmt

C3 = 4 * np.pi**2 / 3


def _quad(f, a, b, **kw):
    kw = {"limit": 400, "epsabs": 1e-14, "epsrel": 1e-12, **kw}
    return integrate.quad(f, a, b, **kw)[0]


def _fine_i3(delta, rho, pieces=3000, order=12):
    """Integrate mu^3 by a fixed composite rule in theta, graded toward the edges."""
    total = 0.0
    for a, b in rmt.spectral_support(delta, rho):
        half = np.geomspace(1e-10, 0.5 * np.pi, pieces // 2)
        br = np.concatenate([[0.0], half, np.pi - half[-2::-1], [np.pi]])
        t, w = np.polynomial.legendre.leggauss(order)
        lo, hi = br[:-1, None], br[1:, None]
        theta = (0.5 * (hi - lo) * t + 0.5 * (hi + lo)).ravel()
        wt = (0.5 * (hi - lo) * w).ravel()
        x = a + (b - a) * np.sin(0.5 * theta) ** 2
        mu = rmt.spectral_density(x, delta, rho)
        total += np.sum(wt * 0.5 * (b - a) * np.sin(theta) * mu**3)
    return total


def _cdf(x, delta, rho):
    """CDF of mu_delta at sorted points x, by cumulative quadrature on a fine grid."""
    grids, masses = [], []
    for a, b in rmt.spectral_support(delta, rho):
        theta = np.linspace(0, np.pi, 20001)
        xs = a + (b - a) * np.sin(0.5 * theta) ** 2
        dens = rmt.spectral_density(xs, delta, rho) * 0.5 * (b - a) * np.sin(theta)
        grids.append(xs)
        masses.append(integrate.cumulative_trapezoid(dens, theta, initial=0.0))
    out = np.zeros_like(x)
    for xs, m in zip(grids, masses):
        out += np.where(x >= xs[-1], m[-1], np.interp(x, xs, m, left=0.0))
    return out


# ============================================================ spectral law
@pytest.mark.parametrize("rho", [0.3, 1.0, 2.5])
@pytest.mark.parametrize("delta", [0.01, 0.5, 3.0])
def test_moments_of_free_convolution(rho, delta):
    m = np.zeros(3)
    for a, b in rmt.spectral_support(delta, rho):
        for k in range(3):
            m[k] += _quad(lambda x: x**k * rmt.spectral_density(x, delta, rho), a, b)
    np.testing.assert_allclose(m, [1.0, np.sqrt(rho), 1 + rho + delta], rtol=0, atol=1e-9)


def test_quartic_is_discriminant_of_cubic():
    P = np.polynomial.Polynomial
    for rho, delta in [(0.3, 0.01), (1.0, 0.7), (2.5, 3.0)]:
        s = np.sqrt(rho)
        a, b, c, d = P([delta]), P([-delta * s, -1.0]), P([1 - rho, s]), P([-s])
        disc = 18 * a * b * c * d - 4 * b**3 * d + b**2 * c**2 - 4 * a * c**3 - 27 * a**2 * d**2
        quartic = rmt._quartic_coefficients(np.array(delta), rho)[::-1]  # ascending
        np.testing.assert_allclose(disc.coef, quartic, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "rho, delta, n_intervals",
    [(0.3, 0.01, 2), (0.3, 0.5, 1), (0.9, 1e-6, 2), (1.0, 1e-6, 1), (2.5, 0.01, 1)],
)
def test_support_edges(rho, delta, n_intervals):
    support = rmt.spectral_support(delta, rho)
    assert len(support) == n_intervals
    for a, b in support:
        eps = 1e-9 * (b - a)
        inside = rmt.spectral_density([a + eps, b - eps, 0.5 * (a + b)], delta, rho)
        outside = rmt.spectral_density([a - eps, b + eps], delta, rho)
        assert np.all(inside > 0) and np.all(outside == 0)
    # rho < 1 and small delta: the atom of mass 1 - rho becomes its own bulk
    if n_intervals == 2:
        a, b = support[0]
        assert _quad(lambda x: rmt.spectral_density(x, delta, rho), a, b) == pytest.approx(
            1 - rho, abs=1e-10
        )


@pytest.mark.parametrize("rho, delta", [(0.5, 0.5), (2.0, 1.0), (0.3, 0.02)])
def test_density_matches_eigenvalue_histogram(rho, delta):
    rng = np.random.default_rng(7)
    d = 1000
    Y = rmt.sample_wishart(d, rho, rng) + np.sqrt(delta) * rmt.sample_goe(d, rng)
    lam = np.linalg.eigvalsh(Y)
    cdf = _cdf(lam, delta, rho)
    empirical = np.arange(1, d + 1) / d
    ks = max(np.max(np.abs(cdf - empirical)), np.max(np.abs(cdf - empirical + 1 / d)))
    assert ks < 0.02


def test_wishart_law_at_zero_noise():
    for rho in [0.3, 2.5]:
        a, b = rmt.wishart_support(rho)
        assert rmt.spectral_support(0.0, rho) == [(a, b)]
        x = np.linspace(a - 0.1, b + 0.1, 41)
        np.testing.assert_allclose(
            rmt.spectral_density(x, 0.0, rho), rmt.wishart_spectral_density(x, rho), atol=1e-12
        )
        mass = _quad(lambda x: rmt.wishart_spectral_density(x, rho), a, b)
        assert mass == pytest.approx(min(1.0, rho), abs=1e-10)  # atom (1-rho)_+ at 0 excluded
    # eigenvalues of a sampled S: rank r, nonzero part follows the law
    rng = np.random.default_rng(3)
    d, rho = 800, 0.5
    lam = np.linalg.eigvalsh(rmt.sample_wishart(d, rho, rng))
    assert np.sum(lam > 1e-8) == round(rho * d)
    nz = np.sort(lam[lam > 1e-8])
    a, b = rmt.wishart_support(rho)
    cdf = np.array([_quad(lambda x: rmt.wishart_spectral_density(x, rho), a, v) for v in nz[::40]])
    empirical = (np.arange(nz.size)[::40] + 0.5) / nz.size
    np.testing.assert_allclose(cdf / rho, empirical, atol=0.02)


def test_sampling_conventions():
    rng = np.random.default_rng(11)
    d, rho = 600, 1.5
    S = rmt.sample_wishart(d, rho, rng)
    assert S.shape == (d, d) and np.allclose(S, S.T)
    assert np.trace(S) / d == pytest.approx(np.sqrt(rho), rel=0.01)
    assert np.sum(S * S) / d == pytest.approx(1 + rho, rel=0.03)  # Q0
    Z = rmt.sample_goe(d, 12)
    assert np.allclose(Z, Z.T)
    off = Z[np.triu_indices(d, 1)]
    assert np.var(off) * d == pytest.approx(1.0, rel=0.02)
    assert np.var(np.diag(Z)) * d == pytest.approx(2.0, rel=0.15)
    lam = np.linalg.eigvalsh(Z)
    assert lam[0] == pytest.approx(-2, abs=0.1) and lam[-1] == pytest.approx(2, abs=0.1)
    np.testing.assert_array_equal(rmt.sample_goe(5, 1), rmt.sample_goe(5, 1))


# ===================================================== Stieltjes / Hilbert
@pytest.mark.parametrize("rho, delta", [(0.3, 0.01), (1.0, 0.5), (2.5, 3.0)])
def test_stieltjes_matches_quadrature(rho, delta):
    support = rmt.spectral_support(delta, rho)

    def g_quad(z):
        re = sum(_quad(lambda x: (1 / (z - x)).real * rmt.spectral_density(x, delta, rho), a, b)
                 for a, b in support)
        im = sum(_quad(lambda x: (1 / (z - x)).imag * rmt.spectral_density(x, delta, rho), a, b)
                 for a, b in support)
        return re + 1j * im

    lo, hi = support[0][0], support[-1][1]
    # complex points on both sides of the real axis
    for z in [1 + 0.3j, -0.5 - 0.2j, hi + 1j]:
        assert rmt.stieltjes(z, delta, rho) == pytest.approx(g_quad(z), abs=1e-9)
    # real points outside the support (and in the gap): g real and decreasing
    xs = [lo - 0.5, hi + 0.1, hi + 10.0]
    if len(support) == 2:
        xs.append(0.5 * (support[0][1] + support[1][0]))
    for x in xs:
        g = rmt.stieltjes(x, delta, rho)
        assert g.imag == 0
        assert g.real == pytest.approx(g_quad(x).real, abs=1e-9)
        assert rmt.hilbert_transform(x, delta, rho) == g.real
    # inside: Hilbert transform is the principal value
    for x in [0.5 * (lo + hi), lo + 0.1 * (hi - lo)]:
        pv = sum(_quad(lambda y: rmt.spectral_density(y, delta, rho), a, b, weight="cauchy",
                       wvar=x) for a, b in support)
        assert rmt.hilbert_transform(x, delta, rho) == pytest.approx(-pv, abs=1e-8)
    # g(x) ~ 1/x far away
    assert rmt.stieltjes(1e6, delta, rho).real == pytest.approx(1e-6, rel=1e-5)
    assert rmt.stieltjes(-1e6, delta, rho).real == pytest.approx(-1e-6, rel=1e-5)


@pytest.mark.parametrize("rho, delta", [(0.3, 0.01), (2.5, 0.5)])
def test_real_axis_is_limit_from_below(rho, delta):
    # the real-axis branch rule (Im g > 0 in the bulk, dz/dg < 0 outside)
    # agrees with the Herglotz selection just below the axis
    lo, hi = rmt.spectral_support(delta, rho)[0][0], rmt.spectral_support(delta, rho)[-1][1]
    x = np.linspace(lo - 1.0, hi + 1.0, 301)
    g0 = rmt.stieltjes(x, delta, rho)
    g1 = rmt.stieltjes(x - 1e-9j, delta, rho)
    far = np.min(np.abs(x[:, None] - np.ravel(rmt.spectral_support(delta, rho))), axis=1) > 1e-3
    np.testing.assert_allclose(g0[far], g1[far], rtol=1e-6, atol=1e-6)


def test_rie_identities():
    # int x h mu = 1/2 and int h^2 mu = (pi^2/3) int mu^3: with the second
    # moment Q0 + delta they give mmse = Q0 - int xi^2 mu (science notes 2.2)
    rho, delta = 0.7, 0.4
    (a, b), = rmt.spectral_support(delta, rho)

    def mu(x):
        return rmt.spectral_density(x, delta, rho)

    def h(x):
        return rmt.hilbert_transform(x, delta, rho)

    assert _quad(lambda x: x * h(x) * mu(x), a, b) == pytest.approx(0.5, abs=1e-10)
    i3 = _quad(lambda x: mu(x) ** 3, a, b)
    assert _quad(lambda x: h(x) ** 2 * mu(x), a, b) == pytest.approx(np.pi**2 / 3 * i3, rel=1e-9)
    xi2 = _quad(lambda x: (x - 2 * delta * h(x)) ** 2 * mu(x), a, b)
    assert 1 + rho - xi2 == pytest.approx(rmt.wishart_denoising_mmse(delta, rho), abs=1e-10)


def test_hilbert_transform_outside_support_is_monotone():
    rho, delta = 0.5, 0.3
    (a, b), = rmt.spectral_support(delta, rho)
    x = np.concatenate([np.linspace(a - 3, a - 1e-9, 200), np.linspace(b + 1e-9, b + 3, 200)])
    h = rmt.hilbert_transform(x, delta, rho)
    assert np.all(np.isfinite(h))
    assert np.all(np.diff(h[:200]) < 0) and np.all(np.diff(h[200:]) < 0)
    assert np.all(h[:200] < 0) and np.all(h[200:] > 0)
    # continuous across the edges
    eps = 1e-10
    for e in (a, b):
        assert rmt.hilbert_transform(e - eps, delta, rho) == pytest.approx(
            rmt.hilbert_transform(e + eps, delta, rho), abs=1e-3
        )


def test_stieltjes_at_zero_noise_includes_atom():
    rho, z = 0.4, 0.7 + 0.5j
    a, b = rmt.wishart_support(rho)
    re = _quad(lambda x: (1 / (z - x)).real * rmt.wishart_spectral_density(x, rho), a, b)
    im = _quad(lambda x: (1 / (z - x)).imag * rmt.wishart_spectral_density(x, rho), a, b)
    cont = re + 1j * im
    assert rmt.stieltjes(z, 0.0, rho) == pytest.approx((1 - rho) / z + cont, abs=1e-9)
    assert np.isnan(rmt.stieltjes(0.0, 0.0, rho))
    assert rmt.stieltjes(0.0, 0.0, 4.0) == pytest.approx(2.0 / (1 - 4.0))


# ================================================================== MMSE
@pytest.mark.parametrize("rho, delta", [(0.5, 0.05), (2.5, 1.0)])
def test_int_mu3_matches_scipy_quad(rho, delta):
    i3 = rmt.denoising_slope_function(delta, rho) / (C3 * delta)
    ref = sum(_quad(lambda x: rmt.spectral_density(x, delta, rho) ** 3, a, b, epsrel=1e-13)
              for a, b in rmt.spectral_support(delta, rho))
    assert i3 == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize(
    "rho, delta",
    # merging bulks (rho < 1) and the hard-edge layer (rho ~ 1, small delta),
    # where a fixed 200-point rule in theta is off by 1e-7 .. 1e-2
    [(0.9, 1e-4), (0.3, 0.3), (0.99, 1e-6), (1.0, 1e-8), (0.3, 1e-8), (2.5, 1e-8)],
)
def test_int_mu3_hard_cases(rho, delta):
    i3 = rmt.denoising_slope_function(delta, rho) / (C3 * delta)
    assert i3 == pytest.approx(_fine_i3(delta, rho), rel=1e-10)


def test_mmse_formulas_agree():
    # Delta - C Delta^2 int mu^3 (used for Delta <= 1) and 1 - Var(xi) (above)
    for rho in [0.3, 1.0, 2.5]:
        delta = np.geomspace(0.05, 50, 7)
        i3, var = rmt._integrals(delta, rho)
        np.testing.assert_allclose(delta - C3 * delta**2 * i3, 1 - var, rtol=1e-12, atol=0)


@pytest.mark.parametrize("rho", [0.3, 1.0, 2.5])
def test_mmse_limits(rho):
    assert rmt.wishart_denoising_mmse(0.0, rho) == 0.0
    assert rmt.wishart_denoising_mmse(np.inf, rho) == 1.0
    # Delta -> 0: mmse / Delta -> 1 - (1 - rho)_+^2 (rho = 1 converges like Delta^(2/3))
    small = np.array([1e-8, 1e-10])
    expected = 1 - max(1 - rho, 0) ** 2
    np.testing.assert_allclose(rmt.wishart_denoising_mmse(small, rho) / small, expected,
                               atol=1e-5)
    # Delta -> inf: mmse -> 1, with 1 - mmse ~ 1/Delta
    big = np.array([1e4, 1e6, 1e8])
    np.testing.assert_allclose((1 - rmt.wishart_denoising_mmse(big, rho)) * big, 1, rtol=3e-3)
    m = rmt.wishart_denoising_mmse(np.geomspace(1e-6, 1e6, 49), rho)
    assert np.all(np.diff(m) > 0) and np.all(m < 1) and np.all(m > 0)


def test_mmse_large_rho_is_gaussian():
    delta = np.array([0.1, 1.0, 10.0])
    np.testing.assert_allclose(rmt.wishart_denoising_mmse(delta, 1e4), delta / (1 + delta),
                               atol=1e-5)


def test_mmse_small_width_limit():
    rho = 1e-3
    t = np.array([0.2, 0.5, 0.8, 1.5, 3.0])
    m = rmt.wishart_denoising_mmse(t / rho, rho)
    np.testing.assert_allclose(m, np.where(t < 1, t * (2 - t), 1.0), atol=0.05)


@pytest.mark.parametrize("rho", [0.3, 1.0, 2.5])
def test_slope_function_monotone(rho):
    delta = np.geomspace(1e-10, 1e10, 201)
    F = rmt.denoising_slope_function(delta, rho)
    floor = max(1 - rho, 0) ** 2
    assert np.all(np.diff(F) > 0)
    assert np.all((F > floor) & (F < 1))
    assert rmt.denoising_slope_function(0.0, rho) == floor
    assert rmt.denoising_slope_function(np.inf, rho) == 1.0
    np.testing.assert_allclose(F, 1 - rmt.wishart_denoising_mmse(delta, rho) / delta, atol=1e-14)


def test_vectorised_equals_scalar():
    rho = 0.4
    delta = np.array([[0.0, 1e-3, 0.2], [1.0, 7.0, np.inf]])
    for f in (rmt.wishart_denoising_mmse, rmt.denoising_slope_function):
        vec = f(delta, rho)
        assert vec.shape == delta.shape
        loop = np.array([[f(float(v), rho) for v in row] for row in delta])
        np.testing.assert_allclose(vec, loop, rtol=1e-13, atol=0)
        assert isinstance(f(0.3, rho), float)
    x = np.linspace(-1, 5, 13)
    for f in (rmt.spectral_density, rmt.hilbert_transform, rmt.stieltjes):
        vec = f(x[:, None], np.array([0.1, 1.0]), rho)
        assert vec.shape == (13, 2)
        loop = np.array([[f(xi, d, rho) for d in (0.1, 1.0)] for xi in x])
        np.testing.assert_allclose(vec, loop, rtol=1e-13, atol=1e-15)


def test_mmse_speed():
    import time

    delta = np.geomspace(1e-8, 1e8, 200)
    rmt.wishart_denoising_mmse(delta, 0.7)
    t0 = time.perf_counter()
    rmt.wishart_denoising_mmse(delta, 0.7)
    assert time.perf_counter() - t0 < 2.0  # ~0.1 s on 2 cores


# =================================================================== RIE
@pytest.mark.parametrize("rho", [0.5, 2.0])
@pytest.mark.parametrize("delta", [0.1, 1.0])
def test_rie_monte_carlo_matches_mmse(rho, delta):
    # Observed at d = 500 (seeds 0-2): per-seed deviations <= 4.5e-3, seed
    # mean within 7e-4 of the asymptotic MMSE.
    d = 500
    errs = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        S = rmt.sample_wishart(d, rho, rng)
        Y = S + np.sqrt(delta) * rmt.sample_goe(d, rng)
        S_hat = rmt.rie(Y, delta, rho)
        assert np.allclose(S_hat, S_hat.T)
        errs.append(np.sum((S_hat - S) ** 2) / d)
    mmse = rmt.wishart_denoising_mmse(delta, rho)
    np.testing.assert_allclose(errs, mmse, atol=2e-2)
    assert np.mean(errs) == pytest.approx(mmse, abs=5e-3)


def test_rie_eigenvalues_outside_support():
    rho, delta = 2.0, 0.5
    (a, b), = rmt.spectral_support(delta, rho)
    lam = np.array([a - 1.0, a - 1e-6, a, 0.5 * (a + b), b, b + 1e-6, b + 0.3, b + 50])
    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.standard_normal((lam.size, lam.size)))
    Y = (U * lam) @ U.T
    S_hat = rmt.rie(Y, delta, rho)
    assert np.all(np.isfinite(S_hat))
    xi = np.linalg.eigvalsh(S_hat)
    expected = np.sort(lam - 2 * delta * rmt.hilbert_transform(lam, delta, rho))
    np.testing.assert_allclose(xi, expected, atol=1e-10)
    # the estimator is monotone in the eigenvalue and shrinks toward the mean
    assert np.all(np.diff(lam - 2 * delta * rmt.hilbert_transform(lam, delta, rho)) > 0)
    # Delta = 0: nothing to denoise
    np.testing.assert_allclose(rmt.rie(Y, 0.0, rho), Y, atol=1e-14)


# ====================================================== counting equation
@pytest.mark.parametrize("rho", [0.3, 1.0, 2.5])
def test_solve_counting_equation_inverts_F(rho):
    floor = max(1 - rho, 0) ** 2
    target = np.concatenate([floor + np.geomspace(1e-9, 0.5, 30) * (1 - floor),
                             1 - np.geomspace(1e-9, 0.4, 30) * (1 - floor)])
    delta = rmt.solve_counting_equation(target, rho)
    assert delta.shape == target.shape and np.all(delta > 0)
    np.testing.assert_allclose(rmt.denoising_slope_function(delta, rho), target, rtol=0,
                               atol=1e-10)
    # relative accuracy near 1: (1 - target) Delta* = mmse(Delta*) -> 1
    near1 = target > 1 - 1e-6
    np.testing.assert_allclose((1 - target[near1]) * delta[near1],
                               rmt.wishart_denoising_mmse(delta[near1], rho), rtol=1e-8)
    # ends: perfect recovery and no data
    np.testing.assert_array_equal(
        rmt.solve_counting_equation([floor, floor - 0.1, -2.0, 1.0], rho), [0, 0, 0, np.inf]
    )
    assert isinstance(rmt.solve_counting_equation(0.5 * (1 + floor), rho), float)


def test_counting_equation_closed_forms():
    # quadratic network (c = 2): MMSE = 2 alpha Delta*, zero beyond alpha_PR = rho - rho^2/2
    rho, c = 0.5, 2
    alpha = np.array([0.0, 0.1, 0.3, 0.37, 0.375, 0.5])
    delta = rmt.solve_counting_equation(1 - c * alpha, rho)
    with np.errstate(invalid="ignore"):
        mmse = np.where(alpha == 0, 1.0, c * alpha * delta)
    assert mmse[0] == 1 and np.all(np.diff(mmse) <= 0)
    np.testing.assert_array_equal(mmse[alpha >= rho - rho**2 / 2], 0)
    # rho -> infinity: MMSE = 1 - c alpha
    alpha = np.array([0.05, 0.2, 0.4])
    delta = rmt.solve_counting_equation(1 - c * alpha, 1e4)
    np.testing.assert_allclose(c * alpha * delta, 1 - c * alpha, atol=1e-4)


# ========================================================== bad arguments
def test_bad_arguments():
    with pytest.raises(ValueError, match="rho"):
        rmt.wishart_denoising_mmse(0.1, 0.0)
    with pytest.raises(ValueError, match="rho"):
        rmt.wishart_denoising_mmse(0.1, -1.0)
    with pytest.raises(ValueError, match="rho"):
        rmt.wishart_denoising_mmse(0.1, np.nan)
    with pytest.raises(ValueError, match="rho"):
        rmt.spectral_density(0.1, 0.1, [0.5, 1.0])
    with pytest.raises(ValueError, match="delta"):
        rmt.wishart_denoising_mmse([0.1, -0.1], 0.5)
    with pytest.raises(ValueError, match="delta"):
        rmt.wishart_denoising_mmse(np.nan, 0.5)
    with pytest.raises(ValueError, match="delta"):
        rmt.denoising_slope_function(-1e-3, 0.5)
    with pytest.raises(ValueError, match="delta"):
        rmt.spectral_density(0.1, -1.0, 0.5)
    with pytest.raises(ValueError, match="delta"):
        rmt.spectral_support(np.inf, 0.5)
    with pytest.raises(ValueError, match="x"):
        rmt.spectral_density(np.nan, 0.1, 0.5)
    with pytest.raises(ValueError, match="target"):
        rmt.solve_counting_equation(1.5, 0.5)
    with pytest.raises(ValueError, match="target"):
        rmt.solve_counting_equation(np.nan, 0.5)
    with pytest.raises(ValueError, match="square"):
        rmt.rie(np.ones((3, 4)), 0.1, 0.5)
    with pytest.raises(ValueError, match="symmetric"):
        rmt.rie(np.triu(np.ones((3, 3))), 0.1, 0.5)
    with pytest.raises(ValueError, match="delta"):
        rmt.rie(np.eye(3), -0.1, 0.5)
    with pytest.raises(ValueError, match="d"):
        rmt.sample_goe(0)
    with pytest.raises(ValueError, match="rho"):
        rmt.sample_wishart(10, 0.01)
