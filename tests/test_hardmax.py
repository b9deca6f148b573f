"""Hardmax T = 2 channel: bivariate normal CDF, output function, state-evolution average."""

import numpy as np
import pytest
from scipy import integrate
from scipy.special import ndtr
from scipy.stats import multivariate_normal

from aimnotes import _hardmax as hm

K = np.array([2.0, 2.0, 1.0])  # variances of h11, h22, h12 in units of V


def _labels(s1, s2):
    """One-hot labels with s_a = +1 if row a picks its own token."""
    s1, s2 = np.broadcast_arrays(np.asarray(s1), np.asarray(s2))
    y = np.zeros(s1.shape + (2, 2))
    y[..., 0, 0] = s1 > 0
    y[..., 0, 1] = s1 < 0
    y[..., 1, 1] = s2 > 0
    y[..., 1, 0] = s2 < 0
    return y


def _symmetric(o11, o22, o12):
    omega = np.empty(np.shape(o11) + (2, 2))
    omega[..., 0, 0], omega[..., 1, 1] = o11, o22
    omega[..., 0, 1] = omega[..., 1, 0] = o12
    return omega


def _quadratic_form(G):
    return 2 * G[:, 0, 0] ** 2 + 2 * G[:, 1, 1] ** 2 + G[:, 0, 1] ** 2


# ------------------------------------------------------------ Phi_2 and tails
def test_phi2_matches_scipy():
    rng = np.random.default_rng(3)
    k = rng.uniform(-6, 4, (20, 2))
    k[:4] = [[-5, -5], [-6, -4], [-3, -6], [0.0, -2.0]]
    gamma = rng.choice([1 / 3, -1 / 3, 0.7, -0.7], 20)
    ref = np.array(
        [multivariate_normal(mean=[0, 0], cov=[[1, g], [g, 1]]).cdf(x) for x, g in zip(k, gamma)]
    )
    ours = hm.bivariate_normal_cdf(k[:, 0], k[:, 1], gamma)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    big = ref > 1e-6  # scipy is accurate in absolute terms only
    np.testing.assert_allclose(ours[big], ref[big], rtol=1e-9)


def test_phi2_zero_limits_and_symmetry():
    gamma = np.array([-0.9, -1 / 3, 0.0, 1 / 3, 0.9])
    at_zero = 0.25 + np.arcsin(gamma) / (2 * np.pi)
    np.testing.assert_allclose(hm.bivariate_normal_cdf(0.0, 0.0, gamma), at_zero, rtol=1e-14)
    k = np.array([-3.0, -0.5, 0.7, 2.5])
    # Phi_2(0, k) from the symmetric Owen term, and Phi_2 at gamma = 0 factorises
    np.testing.assert_allclose(hm.bivariate_normal_cdf(k, 0.0, 0.0), 0.5 * ndtr(k), rtol=1e-13)
    product = ndtr(k) * ndtr(k[::-1])
    np.testing.assert_allclose(hm.bivariate_normal_cdf(k, k[::-1], 0.0), product, rtol=1e-12)
    swapped = hm.bivariate_normal_cdf(1.3, k, 1 / 3)
    np.testing.assert_allclose(hm.bivariate_normal_cdf(k, 1.3, 1 / 3), swapped, rtol=1e-14)
    assert hm.bivariate_normal_cdf(np.zeros((3, 1)), np.zeros(4), 0.2).shape == (3, 4)


# (k1, k2, gamma, log Phi_2, d1, d2) from 50-digit mpmath quadrature; most Phi_2 << 1e-300.
TAIL_REFERENCE = [
    (-37, -37, -0.8, -6856.7679902867723184, 185.02702088812131, 185.02702088812131),
    (-30, -30, 1 / 3, -683.00970113821842684, 22.533211118872252, 22.533211118872252),
    (-30, -30, -1 / 3, -1359.3936048241532645, 45.033290256573135, 45.033290256573135),
    (5, -30, 1 / 3, -454.32124395634234357, 3.8597078963439e-56, 30.033259667434),
    (-8, -8, -1 / 3, -102.76664688192912902, 12.122814793432785, 12.122814793432785),
    (-300, -300, 1 / 3, -67512.611223388134311, 225.00333320969709, 225.00333320969709),
    (-300, 4, -1 / 3, -50196.278344659350056, 336.00681962957198, 108.01153058823325),
    (-12, -3, 1 / 3, -75.559191937188025748, 11.992424692635009, 0.2711216023936951),
    (-25, -25, 0.6, -397.74631307731310907, 15.664651441342461, 15.664651441342461),
]


def test_log_phi2_relative_accuracy_in_the_tails():
    ref = np.array(TAIL_REFERENCE)
    log_p, d1, d2 = hm.log_z_and_gradient(ref[:, 0], ref[:, 1], ref[:, 2])
    np.testing.assert_allclose(log_p, ref[:, 3], rtol=1e-14)
    np.testing.assert_allclose(d1, ref[:, 4], rtol=1e-10)
    np.testing.assert_allclose(d2, ref[:, 5], rtol=1e-10)
    small = ref[:, 3] > -700  # representable Phi_2
    cdf = hm.bivariate_normal_cdf(ref[small, 0], ref[small, 1], ref[small, 2])
    np.testing.assert_allclose(cdf, np.exp(ref[small, 3]), rtol=1e-11)


def test_tail_integral_agrees_with_owen_where_both_are_accurate():
    rng = np.random.default_rng(0)
    k1, k2 = rng.uniform(-5, 4, (2, 400))
    gamma = rng.choice([1 / 3, -1 / 3, 0.8], 400)
    value, scale = hm._phi2_owen(k1, k2, gamma)
    ok = value > 0.1 * scale
    log_p = hm._phi2_tail(k1[ok], k2[ok], gamma[ok])[0]
    np.testing.assert_allclose(log_p, np.log(value[ok]), rtol=0, atol=1e-12)


def test_exact_gradient_matches_finite_differences_and_released_does_not():
    rng = np.random.default_rng(1)
    k1, k2 = rng.uniform(-6, 4, (2, 200))
    gamma = rng.choice([1 / 3, -1 / 3], 200)
    eps = 1e-5
    def log_p(a, b):
        return hm.log_z_and_gradient(a, b, gamma)[0]

    fd1 = (log_p(k1 + eps, k2) - log_p(k1 - eps, k2)) / (2 * eps)
    fd2 = (log_p(k1, k2 + eps) - log_p(k1, k2 - eps)) / (2 * eps)
    _, d1, d2 = hm.log_z_and_gradient(k1, k2, gamma)
    np.testing.assert_allclose(d1, fd1, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(d2, fd2, rtol=1e-7, atol=1e-9)
    _, r1, r2 = hm.log_z_and_gradient(k1, k2, gamma, derivative="released")
    np.testing.assert_array_equal(r1, r2)
    assert np.max(np.abs(r1 / fd1 - 1)) > 0.1  # the released-code formula is not the gradient
    # at k = 0 it is off by phi_2(0, 0; 1/3) / (phi(0) Phi(0)) = 3 / (2 sqrt(pi))
    _, e1, _ = hm.log_z_and_gradient(0.0, 0.0, 1 / 3)
    _, f1, _ = hm.log_z_and_gradient(0.0, 0.0, 1 / 3, derivative="released")
    np.testing.assert_allclose(f1 / e1, 3 / (2 * np.sqrt(np.pi)), rtol=1e-13)


# ---------------------------------------------------------------- the channel
def test_labels_sum_to_one():
    rng = np.random.default_rng(2)
    n = 50
    omega = _symmetric(*rng.normal(0, 2, (3, n)))
    V = rng.uniform(0.05, 3, n)
    total = sum(
        np.exp(hm.log_z_out(_labels(np.full(n, s1), np.full(n, s2)), omega, V))
        for s1 in (1, -1)
        for s2 in (1, -1)
    )
    np.testing.assert_allclose(total, 1.0, rtol=1e-13)


@pytest.mark.parametrize("derivative", ["exact", "released"])
def test_g_out_is_symmetric_with_finite_difference_entries(derivative):
    rng = np.random.default_rng(4)
    n = 60
    o = rng.normal(0, 1.5, (3, n))
    V = rng.uniform(0.1, 2, n)
    y = _labels(rng.choice([1, -1], n), rng.choice([1, -1], n))
    G = hm.g_out(y, _symmetric(*o), V, derivative=derivative)
    np.testing.assert_array_equal(G[:, 0, 1], G[:, 1, 0])
    eps = 1e-6
    fd = []
    for j in range(3):  # derivative with respect to the single entries omega11, omega22, omega12
        up, down = o.copy(), o.copy()
        up[j] += eps
        down[j] -= eps
        diff = hm.log_z_out(y, _symmetric(*up), V) - hm.log_z_out(y, _symmetric(*down), V)
        fd.append(diff / (2 * eps))
    got = [G[:, 0, 0], G[:, 1, 1], G[:, 0, 1]]
    if derivative == "exact":
        for g, f in zip(got, fd):
            np.testing.assert_allclose(g, f, rtol=1e-6, atol=1e-8)
    else:
        assert max(np.max(np.abs(g - f)) for g, f in zip(got, fd)) > 0.05


@pytest.mark.parametrize("derivative", ["exact", "released"])
def test_g_out_finite_for_extreme_inputs(derivative):
    rng = np.random.default_rng(5)
    n = 400
    omega = _symmetric(*rng.uniform(-1e3, 1e3, (3, n)))
    y = _labels(rng.choice([1, -1], n), rng.choice([1, -1], n))
    for V in (1e-10, 1e-6, 1.0, 1e4):
        G = hm.g_out(y, omega, V, derivative=derivative)
        assert np.all(np.isfinite(G))
    # a label violated by a huge margin pulls omega towards it: row 1 picks token 1 but u1 << 0
    G = hm.g_out(_labels(1, 1)[None], _symmetric(-1e3, 5.0, 0.0)[None], 1e-10)
    assert G[0, 0, 0] > 0 and np.isfinite(G).all()
    np.testing.assert_allclose(G[0, 0, 0], 1e3 / (3e-10), rtol=1e-6)  # d log Phi(k)/dk -> |k|


def test_sample_and_check_labels():
    rng = np.random.default_rng(6)
    h = rng.standard_normal((100, 2, 2))
    h[:, 1, 0] = h[:, 0, 1]
    y = hm.sample_labels(h)
    assert hm.check_labels(y) is not None
    np.testing.assert_array_equal(y[:, 0, 0], h[:, 0, 0] > h[:, 0, 1])
    np.testing.assert_array_equal(y[:, 1, 1], h[:, 1, 1] > h[:, 0, 1])
    with pytest.raises(ValueError):
        hm.sample_labels(h[:, :1])
    bad = [
        np.zeros((2, 2)),  # no sample axis
        np.ones((3, 2, 3)) / 3,  # T = 3
        np.full((3, 2, 2), 0.5),  # not 0/1
        np.ones((3, 2, 2)),  # two ones per row
        np.zeros((3, 2, 2)),  # no one
        np.where(np.eye(2, dtype=bool), np.nan, 0.0)[None],  # NaN
    ]
    for y_bad in bad:
        with pytest.raises(ValueError):
            hm.check_labels(y_bad)
    with pytest.raises(ValueError):
        hm.g_out(y, np.zeros((100, 2, 2)), 0.0)
    with pytest.raises(ValueError):
        hm.g_out(y, np.zeros((100, 2, 2)), 1.0, derivative="paper")
    with pytest.raises(ValueError):
        hm.bivariate_normal_cdf(0.0, 0.0, 1.0)


# ----------------------------------------------------------- state evolution
@pytest.mark.parametrize(
    "q, V, derivative",
    [
        (0.0, 1.0, "exact"),
        (0.5, 0.5, "exact"),
        (1.0, 0.02, "exact"),
        (1.0, 1e-4, "exact"),
        (1.0, 0.02, "released"),
    ],
)
def test_fisher_matches_monte_carlo(q, V, derivative):
    rng = np.random.default_rng(7)
    n = 400_000
    scale = np.sqrt(K)
    omega_entries = np.sqrt(q) * scale * rng.standard_normal((n, 3))
    h_entries = omega_entries + np.sqrt(V) * scale * rng.standard_normal((n, 3))
    y = hm.sample_labels(_symmetric(*h_entries.T))
    G = hm.g_out(y, _symmetric(*omega_entries.T), V, derivative=derivative)
    x = _quadratic_form(G)
    mean, err = x.mean(), x.std() / np.sqrt(n)
    expected = hm.fisher(q, V, derivative)
    assert abs(mean - expected) < 5 * err, (mean, err, expected)
    if derivative == "exact":  # Nishimori: E g = 0
        for g in (G[:, 0, 0], G[:, 1, 1], G[:, 0, 1]):
            assert abs(g.mean()) < 5 * g.std() / np.sqrt(n)


@pytest.mark.parametrize("derivative", ["exact", "released"])
def test_table_matches_direct_quadrature(derivative):
    r = np.array([0.0, 3.3e-5, 0.37, 0.999, 1.001, 7.3, 123.4, 5.1e4, 3.3e7])
    V = np.array([1.0, 0.5, 2.0, 1.0, 1.0, 0.1, 0.01, 1e-4, 1e-8])
    q = r * V
    direct = hm.fisher_quadrature(q, V, derivative)
    np.testing.assert_allclose(hm.fisher(q, V, derivative), direct, rtol=1e-11)
    # the two quadratures meet continuously at the split r = 1
    split = np.array([hm._R_SPLIT])
    large = hm._h_large_r(split, derivative)
    np.testing.assert_allclose(hm._h_small_r(split, derivative), large, rtol=1e-12)
    assert hm.fisher(np.ones((2, 1)), np.ones(3), derivative).shape == (2, 3)
    with pytest.raises(ValueError):
        hm.fisher(-0.1, 1.0, derivative)
    with pytest.raises(ValueError):
        hm.fisher(0.1, 0.0, derivative)


def test_fisher_large_r_asymptote():
    # V -> 0: two independent sign-channel strips, F -> c / sqrt(q V)
    def two_sided(t):
        return np.exp(-(t**2)) / (2 * np.pi * ndtr(t) * ndtr(-t))

    strip = integrate.quad(two_sided, -25, 25, epsabs=0, epsrel=1e-13, limit=200)[0]
    c = 2 * strip / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(hm.fisher(1.0, 1e-14) * 1e-7, c, rtol=1e-6)
    np.testing.assert_allclose(hm.fisher(2.0, 1e-300) * np.sqrt(2e-300), c, rtol=1e-12)
    # released formula: no strips, F saturates at O(1/q)
    F = hm.fisher(1.0, np.array([1e-8, 1e-12]), "released")
    np.testing.assert_allclose(F[0], F[1], rtol=1e-7)


def test_small_width_threshold_closed_form():
    e0 = hm.small_width_fisher_at_zero()
    np.testing.assert_allclose(hm.fisher(0.0, 1.0), e0, rtol=1e-13)
    theta = np.arcsin(1 / 3)
    plus, minus = 0.25 + theta / (2 * np.pi), 0.25 - theta / (2 * np.pi)
    alpha_wr = (3 * np.pi / 2) / (2 / plus + 1 / minus)
    np.testing.assert_allclose(1 / (2 * e0), alpha_wr, rtol=1e-14)
    e0_released = hm.small_width_fisher_at_zero("released")
    np.testing.assert_allclose(hm.fisher(0.0, 1.0, "released"), e0_released, rtol=1e-13)
    # the released formula multiplies the threshold by
    # [phi(0) Phi(0) / phi_2(0, 0; 1/3)]^2 = 4 pi / 9
    np.testing.assert_allclose(e0 / e0_released, 4 * np.pi / 9, rtol=1e-14)
