"""Tests of the rectangular tools of aimnotes.rmt (RIE and denoising MMSE for BSR)."""

import numpy as np
import pytest

from aimnotes.quadrature import gauss_legendre
from aimnotes.rmt import (
    rectangular_denoising_mmse,
    rectangular_rie,
    rectangular_spectral_density,
    rectangular_spectral_support,
    sample_rectangular_signal,
)

CASES = [(2.0, 0.5, 0.5), (1.0, 0.5, 0.5), (1.0, 2.0, 0.1), (3.0, 0.2, 1e-3),
         # a narrow bulk of small singular values; a narrow gap; a small noise
         # at rho = 1 where the discriminant's roots are off by 4e-4 before Newton
         (1000.0, 0.9, 1e-5), (4.0, 0.1, 6.3), (1000.0, 1.0, 1e-6)]


@pytest.mark.parametrize("beta,rho,delta", CASES)
def test_density_mass_and_moments(beta, rho, delta):
    th, wt = gauss_legendre(1000, 0.0, np.pi)
    m = np.zeros(3)
    for a, b in rectangular_spectral_support(delta, beta, rho):
        x = a + 0.5 * (b - a) * (1 - np.cos(th))
        w = wt * 0.5 * (b - a) * np.sin(th)
        mu = rectangular_spectral_density(x, delta, beta, rho)
        assert np.all(mu >= 0)
        m += [2 * np.sum(w * mu * x ** (2 * k)) for k in range(3)]
    exact = [1.0, (1 + delta) * np.sqrt(beta), beta / rho + (1 + beta) * (1 + delta) ** 2]
    np.testing.assert_allclose(m, exact, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("beta,rho",
                         [(1.0, 0.5), (2.0, 0.5), (3.0, 0.2), (1.0, 2.0), (1000.0, 0.9)])
def test_small_delta_slope_is_counting_bound(beta, rho):
    alpha_s = 1.0 if rho >= 1 else rho * (1 + beta - rho) / beta
    dl = 1e-3 / beta  # the slope settles at smaller noise for larger beta
    assert abs(rectangular_denoising_mmse(dl, beta, rho) / dl - alpha_s) < 5e-3


@pytest.mark.parametrize("beta,rho,delta", CASES)
def test_support_edges_are_sharp(beta, rho, delta):
    # mu vanishes just outside every edge and not just inside (edges to 1e-9 relative).
    for a, b in rectangular_spectral_support(delta, beta, rho):
        out = [b * (1 + 1e-9)] + ([a * (1 - 1e-9)] if a > 0 else [])
        near = [b * (1 - 1e-6)] + ([a * (1 + 1e-6)] if a > 0 else [])
        assert np.all(rectangular_spectral_density(out, delta, beta, rho) == 0)
        assert np.all(rectangular_spectral_density(near, delta, beta, rho) > 0)


def test_narrow_bulk_of_small_singular_values():
    # rho < 1: S has d - r zero singular values; at small noise they form a
    # bulk of mass 1 - rho near sqrt(delta) (here 2% wide), apart from the rest.
    beta, rho, delta = 1000.0, 0.9, 1e-5
    (a, b), (c, _) = rectangular_spectral_support(delta, beta, rho)
    assert b < 0.1 * c and (b - a) < 0.05 * a
    th, wt = gauss_legendre(200, 0.0, np.pi)
    x = a + 0.5 * (b - a) * (1 - np.cos(th))
    w = wt * 0.5 * (b - a) * np.sin(th)
    mass = 2 * np.sum(w * rectangular_spectral_density(x, delta, beta, rho))
    assert mass == pytest.approx(1 - rho, rel=1e-9)


def test_narrow_gap_between_bulks():
    # Just before two bulks merge (beta = 4, rho = 0.1, delta = 6.3) the gap is
    # 4e-4 of its position wide; mu vanishes across it and not just outside it.
    (_, b), (c, _) = rectangular_spectral_support(6.3, 4.0, 0.1)
    assert 0 < c - b < 1e-3 * b
    x = np.linspace(b, c, 201)[1:-1]
    assert np.all(rectangular_spectral_density(x, 6.3, 4.0, 0.1) == 0)
    # Across the merge the number of bulks drops once, from 2 to 1 (the gap
    # closes continuously; a near-real pair of roots must not flicker).
    count = [len(rectangular_spectral_support(d, 4.0, 0.1)) for d in np.linspace(6.40, 6.43, 61)]
    assert count[0] == 2 and count[-1] == 1 and np.count_nonzero(np.diff(count)) == 1


def test_large_rho_is_gaussian():
    d = np.array([0.1, 1.0])
    np.testing.assert_allclose(rectangular_denoising_mmse(d, 1.0, 200.0), d / (1 + d), atol=2e-3)


def test_bounds_and_limits():
    d = np.array([0.0, 0.05, 0.5, 2.0, np.inf])
    m = rectangular_denoising_mmse(d, 2.0, 0.5)
    assert m[0] == 0 and m[-1] == 1
    assert np.all(m[1:-1] > 0) and np.all(m[1:-1] <= d[1:-1] / (1 + d[1:-1]))
    assert np.all(np.diff(m) > 0)


def test_beta_symmetry_and_vectorised():
    d = np.array([0.1, 0.7])
    a = rectangular_denoising_mmse(d, 2.0, 0.5)
    b = rectangular_denoising_mmse(d, 0.5, 0.5)
    np.testing.assert_array_equal(a, b)
    loop = [rectangular_denoising_mmse(float(x), 2.0, 0.5) for x in d]
    np.testing.assert_array_equal(a, loop)


@pytest.mark.parametrize("shape", [(200, 400), (400, 200)])
def test_monte_carlo_rie(shape):
    rho, delta = 0.5, 0.5
    beta = shape[1] / shape[0]
    errs = []
    for seed in range(2):
        rng = np.random.default_rng(seed)
        S = sample_rectangular_signal(*shape, rho, rng)
        Y = S + np.sqrt(delta) * rng.standard_normal(shape)
        errs.append(np.mean((rectangular_rie(Y, delta, rho) - S) ** 2))
    assert abs(np.mean(errs) - rectangular_denoising_mmse(delta, beta, rho)) < 1e-2


def test_bad_input():
    with pytest.raises(ValueError, match="delta"):
        rectangular_denoising_mmse(-1.0, 1.0, 0.5)
    with pytest.raises(ValueError, match="beta"):
        rectangular_denoising_mmse(0.1, 0.0, 0.5)
    with pytest.raises(ValueError, match="rho"):
        rectangular_denoising_mmse(0.1, 1.0, [0.5, 1.0])
    with pytest.raises(ValueError, match="Y"):
        rectangular_rie(np.ones(3), 0.1, 0.5)


# Regression for the fake small-x bulks (beta > 1): the near-double root at
# G ~ (1 - beta)/x split by rounding was taken for the physical one, so the
# int mu/x^2 term blew up (beta = 1.5, rho = 1.5, delta = 10 gave 0.294).
@pytest.mark.parametrize("beta", [1.0, 1.5, 3.0])
@pytest.mark.parametrize("rho", [0.2, 0.5, 1.5])
def test_mmse_below_linear_and_increasing(beta, rho):
    d = np.logspace(-3, 2, 12)
    m = rectangular_denoising_mmse(d, beta, rho)
    assert np.all(m > 0)
    assert np.all(m <= d / (1 + d) + 1e-9)
    assert np.all(np.diff(m) > 0)
    supp = rectangular_spectral_support(d[-1], beta, rho)
    assert len(supp) <= 2 and (beta == 1 or supp[0, 0] > 1e-2)


@pytest.mark.parametrize("rho", [0.5, 10.0])
def test_mmse_at_large_noise(rho):
    # beta = 1: the support reaches 0, where the root solve degrades for large
    # delta (x < 1e-7); one quadrature node there cost 1e-4 in the MMSE, which
    # multiplies the integrals by delta^2 (regression: 1.0000038 at delta = 1e4).
    d = np.geomspace(5e3, 1e4, 25)
    m = rectangular_denoising_mmse(d, 1.0, rho)
    assert np.all(m <= d / (1 + d) + 1e-9) and np.all(np.diff(m) > 0)


@pytest.mark.parametrize("rho, delta", [(0.5, 0.3), (0.5, 1e3), (10.0, 0.3), (10.0, 1e3),
                                        (2.0, 1e-12)])  # the last cancels in the naive form
def test_density_at_zero_beta_one(rho, delta):
    # Closed form from the quartic at x -> 0 against the root solve at small x.
    near = rectangular_spectral_density(1e-4 * np.sqrt(1 + delta), delta, 1.0, rho)
    assert rectangular_spectral_density(0.0, delta, 1.0, rho) == pytest.approx(near, rel=1e-6)


def test_clipped_points_take_g_at_the_edge():
    # rectangular_rie(clip=True): points beyond the outer edges move onto them, with
    # G there from the double root (the root selection is ill-conditioned at the edge).
    from aimnotes._rmt_rectangular import _G, _clip_to_support

    beta, rho, delta = 2.0, 0.5, 0.3
    supp = rectangular_spectral_support(delta, beta, rho)
    lo, hi = supp[0, 0], supp[-1, 1]
    x = np.array([0.5 * lo, 0.5 * (lo + hi), 1.05 * hi])
    xc, gc = _clip_to_support(x, _G(x, delta, beta, rho), delta, beta, rho)
    np.testing.assert_array_equal(xc, [lo, x[1], hi])
    inner = _G(np.array([lo * (1 + 1e-10), hi * (1 - 1e-10)]), delta, beta, rho)
    assert np.all(gc[[0, 2]].imag == 0)
    np.testing.assert_allclose(gc[[0, 2]].real, inner.real, rtol=1e-4)


def test_quadrature_warns_when_not_converged(monkeypatch):
    import aimnotes._rmt_rectangular as rr
    from aimnotes.solvers import ConvergenceWarning

    monkeypatch.setattr(rr, "_QUAD_NMAX", rr._QUAD_N0)
    with pytest.warns(ConvergenceWarning, match="quadrature"):
        rectangular_denoising_mmse(0.5, 2.0, 0.5)


def test_known_bad_case():
    m = rectangular_denoising_mmse(10.0, 1.5, 1.5)
    assert 0.85 < m <= 10 / 11


def _density_cdf(s, delta, beta, rho):
    """CDF of mu restricted to s > 0 (total 1/2 -> normalised to 1)."""
    th, wt = gauss_legendre(400, 0.0, np.pi)
    xs, cum, tot = [], [], 0.0
    for a, b in rectangular_spectral_support(delta, beta, rho):
        x = a + 0.5 * (b - a) * (1 - np.cos(th))
        w = wt * 0.5 * (b - a) * np.sin(th)
        mu = rectangular_spectral_density(x, delta, beta, rho)
        xs.append(x)
        cum.append(tot + np.cumsum(w * mu) * 2)
        tot = cum[-1][-1]
    return np.interp(s, np.concatenate(xs), np.concatenate(cum), left=0.0, right=1.0)


@pytest.mark.parametrize("beta,rho,delta", [(1.5, 1.5, 10.0), (2.0, 0.2, 0.1)])
def test_density_matches_sampled_singular_values(beta, rho, delta):
    d = 200
    L = int(beta * d)
    rng = np.random.default_rng(1)
    S = sample_rectangular_signal(d, L, rho, rng)
    Y = S + np.sqrt(delta) * rng.standard_normal((d, L))
    sv = np.sort(np.linalg.svd(Y / (d * L) ** 0.25, compute_uv=False))
    emp = np.arange(1, d + 1) / d
    th = _density_cdf(sv, delta, beta, rho)
    gap = max(np.max(np.abs(th - emp)), np.max(np.abs(th - emp + 1.0 / d)))
    print(f"beta={beta} rho={rho} delta={delta}: max CDF gap {gap:.4f}")
    assert gap < 0.03


@pytest.mark.parametrize("delta", [0.1, 1.0])
def test_monte_carlo_rie_beta2(delta):
    d, beta, rho = 200, 2.0, 0.5
    L = int(beta * d)
    rng = np.random.default_rng(2)
    S = sample_rectangular_signal(d, L, rho, rng)
    Y = S + np.sqrt(delta) * rng.standard_normal((d, L))
    err = np.sum((rectangular_rie(Y, delta, rho) - S) ** 2) / (d * L)
    mmse = rectangular_denoising_mmse(delta, beta, rho)
    print(f"delta={delta}: MC RIE error {err:.5f}, MMSE {mmse:.5f}")
    assert abs(err - mmse) < 0.02
