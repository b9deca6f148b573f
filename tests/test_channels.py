"""Channels: the generic contract, the sign channel's integrals, tails and bad input."""

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import erf

from aimnotes import channels
from aimnotes.channels import Channel, Linear, Sign
from aimnotes.testing import check_channel

CHANNEL_TABLE = [Sign(0.0), Sign(1.0), Sign(-2.0), Linear(0.0), Linear(0.5)]


# ---------------------------------------------------------- generic contract
@pytest.mark.parametrize("channel", CHANNEL_TABLE, ids=repr)
def test_check_channel(channel):
    check_channel(channel, rng=0)


@pytest.mark.parametrize("channel", [Sign(1.0), Linear(0.5)], ids=repr)
def test_check_channel_other_rho(channel):
    check_channel(channel, rng=np.random.default_rng(3), rho=2.5)


def test_registry_lists_the_channels():
    assert channels.CHANNELS == {"sign": Sign, "linear": Linear}


class _WrongDerivative(Sign):
    def _g_out(self, y, omega, V):
        g, dg = super()._g_out(y, omega, V)
        return g, 1.01 * dg


class _WrongG(Linear):
    def _g_out(self, y, omega, V):
        g, dg = super()._g_out(y, omega, V)
        return 0.99 * g, dg


class _NotVectorised(Linear):
    def _g_out(self, y, omega, V):
        g, dg = super()._g_out(y, omega, V)
        return g - 1e-3 * np.mean(g), dg


class _WrongSeQHat(Sign):
    def se_q_hat(self, q, rho=1.0):
        return 1.05 * super().se_q_hat(q, rho)


class _WrongPsiOut(Linear):
    def psi_out(self, q, rho=1.0):
        return super().psi_out(q, rho) + 0.01


class _BadLabels(Sign):
    def _sample(self, h, rng):
        return (h > self.kappa).astype(float)  # {0, 1} instead of {-1, +1}


@pytest.mark.parametrize(
    "broken, message",
    [
        (_WrongDerivative(), "dg != d g / d omega"),
        (_WrongG(), "g != d log Z_out / d omega"),
        (_NotVectorised(0.5), "vectorised g != loop"),
        (_WrongSeQHat(), r"se_q_hat\(q=0.2"),
        (_WrongPsiOut(0.5), r"psi_out\(q=0.2"),
        (_BadLabels(), "rejected"),
    ],
    ids=lambda x: type(x).__name__ if isinstance(x, Channel) else "",
)
def test_check_channel_detects_broken_channels(broken, message):
    with pytest.raises(AssertionError, match=message):
        check_channel(broken, rng=0)


# ------------------------------------------- sign channel: the xi-integrals
def _xi_quad(f, q, kappa, rho=1.0):
    """``E_xi f(a)`` with ``a = (sqrt(q) xi - kappa)/sqrt(rho - q)`` by adaptive quad.

    The integrand varies on the scale sqrt(V/q) around xi = kappa/sqrt(q):
    that window gets its own sub-intervals.
    """
    V = rho - q
    centre, width = kappa / np.sqrt(q), np.sqrt(V / q)
    edges = sorted({-np.inf, -12.0, centre - 10 * width, centre, centre + 10 * width, 12.0,
                    np.inf})

    def integrand(xi):
        return stats.norm.pdf(xi) * f((np.sqrt(q) * xi - kappa) / np.sqrt(V))

    return sum(integrate.quad(integrand, lo, hi, epsabs=1e-15, epsrel=1e-12, limit=400)[0]
               for lo, hi in zip(edges[:-1], edges[1:]))


def _q_hat_integrand(a):
    # phi(a)^2 / (Phi(a) Phi(-a)), in logs (scipy.stats, not the package's erfcx path)
    return np.exp(2 * stats.norm.logpdf(a) - stats.norm.logcdf(a) - stats.norm.logcdf(-a))


def _psi_integrand(a):
    return (stats.norm.cdf(a) * stats.norm.logcdf(a)
            + stats.norm.cdf(-a) * stats.norm.logcdf(-a))


def _bo_error_integrand(a):
    # the Bayes-optimal label is sign(omega - kappa) = sign(a): wrong w.p. Phi(-|a|)
    return stats.norm.cdf(-np.abs(a))


KAPPAS = [0.0, 0.7, -1.5]
QS = [0.05, 0.5, 0.95, 0.999]


@pytest.mark.parametrize("kappa", KAPPAS)
@pytest.mark.parametrize("q", QS)
def test_sign_se_integrals_against_quad(kappa, q):
    channel = Sign(kappa)
    V = 1.0 - q
    assert channel.se_q_hat(q) == pytest.approx(_xi_quad(_q_hat_integrand, q, kappa) / V,
                                                rel=1e-10)
    assert channel.psi_out(q) == pytest.approx(_xi_quad(_psi_integrand, q, kappa),
                                               rel=1e-10, abs=1e-13)
    assert channel.gen_error(q) == pytest.approx(_xi_quad(_bo_error_integrand, q, kappa),
                                                 rel=1e-10, abs=1e-13)


@pytest.mark.parametrize("kappa", [0.7, -1.5])
def test_sign_se_integrals_other_rho(kappa):
    # rho != 1: the same integrals with V = rho - q and h of variance rho.
    rho, q = 2.5, 1.6
    channel = Sign(kappa)
    V = rho - q
    ref = _xi_quad(_q_hat_integrand, q, kappa, rho) / V
    assert channel.se_q_hat(q, rho) == pytest.approx(ref, rel=1e-10)
    assert channel.psi_out(q, rho) == pytest.approx(_xi_quad(_psi_integrand, q, kappa, rho),
                                                    rel=1e-10)
    assert channel.gen_error(q, rho) == pytest.approx(
        _xi_quad(_bo_error_integrand, q, kappa, rho), rel=1e-10)


def test_sign_gen_error_is_the_angle_at_kappa_zero():
    q = np.array([0.0, 1e-6, 0.05, 0.3, 0.5, 0.9, 0.999, 1.0])
    np.testing.assert_allclose(Sign().gen_error(q), np.arccos(np.sqrt(q)) / np.pi,
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(Sign().gen_error(2.5 * q, rho=2.5),
                               np.arccos(np.sqrt(q)) / np.pi, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("q", [0.3, 0.8])
def test_sign_gen_error_monte_carlo_at_kappa_one(q):
    # omega = sqrt(q) xi is what the posterior knows, h the teacher's
    # pre-activation; the Bayes-optimal label is sign(omega - kappa).
    kappa, n = 1.0, 1_000_000
    rng = np.random.default_rng(7)
    omega = np.sqrt(q) * rng.standard_normal(n)
    h = omega + np.sqrt(1 - q) * rng.standard_normal(n)
    wrong = np.sign(omega - kappa) != np.sign(h - kappa)
    se = wrong.std() / np.sqrt(n)
    assert abs(Sign(kappa).gen_error(q) - wrong.mean()) < 5 * se


def test_sign_gibbs_error_and_label_mse_identity():
    channel = Sign()
    q = np.array([0.05, 0.5, 0.95, 0.999])
    np.testing.assert_allclose(channel.gibbs_error(q), np.arccos(q) / np.pi, rtol=1e-12)
    # Notes section 1: the label MSE of E[y|x, D] = erf(x.w_hat / sqrt(2 (1 - q)))
    # is 1 - E_xi erf^2(xi sqrt(q / (2 (1 - q)))) = (2/pi) arccos(q) = 2 eps_Gibbs.
    for qi, gibbs in zip(q, channel.gibbs_error(q)):
        s = np.sqrt(qi / (2 * (1 - qi)))
        width = 6.0 / s  # erf^2 saturates beyond |xi| ~ 6/s: split there
        edges = [-np.inf, -width, 0.0, width, np.inf]
        mean_erf2 = sum(
            integrate.quad(lambda x: stats.norm.pdf(x) * erf(s * x) ** 2, lo, hi,
                           epsabs=1e-15, epsrel=1e-12, limit=400)[0]
            for lo, hi in zip(edges[:-1], edges[1:]))
        assert 1 - mean_erf2 == pytest.approx(2 * gibbs, rel=1e-9)


@pytest.mark.parametrize("kappa", [0.7, -1.5])
@pytest.mark.parametrize("q", [0.2, 0.9])
def test_sign_gibbs_error_with_threshold(kappa, q):
    # Two unit Gaussians of correlation q on opposite sides of kappa:
    # 2 P(h1 > kappa, h2 < kappa) = 2 int_kappa^inf phi(t) Phi((kappa - q t)/sqrt(1 - q^2)) dt.
    ref = 2 * integrate.quad(
        lambda t: stats.norm.pdf(t) * stats.norm.cdf((kappa - q * t) / np.sqrt(1 - q**2)),
        kappa, np.inf, epsabs=1e-15, epsrel=1e-12)[0]
    assert Sign(kappa).gibbs_error(q) == pytest.approx(ref, rel=1e-9)


def _binary_entropy(p):
    return -(p * np.log(p) + (1 - p) * np.log(1 - p))


@pytest.mark.parametrize("kappa", [0.0, 0.7, -1.5, 3.0])
def test_sign_psi_out_endpoints(kappa):
    channel = Sign(kappa)
    expected = -_binary_entropy(stats.norm.cdf(kappa))
    assert channel.psi_out(0.0) == pytest.approx(expected, rel=1e-13)
    assert channel.psi_out(1.0) == 0.0
    # rho != 1: the label is sign(h - kappa) with h ~ N(0, rho)
    assert channel.psi_out(0.0, rho=2.5) == pytest.approx(
        -_binary_entropy(stats.norm.cdf(kappa / np.sqrt(2.5))), rel=1e-13)
    assert channel.psi_out(2.5, rho=2.5) == 0.0
    # at q = 0 the q_hat integrand is constant: phi(kappa)^2 / (Phi(kappa) Phi(-kappa))
    assert channel.se_q_hat(0.0) == pytest.approx(
        stats.norm.pdf(kappa) ** 2 / (stats.norm.cdf(kappa) * stats.norm.sf(kappa)), rel=1e-12)


def test_sign_psi_out_at_kappa_zero_is_minus_log_two():
    assert Sign().psi_out(0.0) == pytest.approx(-np.log(2), rel=1e-15)
    assert Sign().se_q_hat(0.0) == pytest.approx(2 / np.pi, rel=1e-14)


@pytest.mark.parametrize("kappa", [0.7, 1.5, 3.0])
def test_sign_symmetry_under_kappa_flip(kappa):
    q = np.array([0.0, 0.05, 0.5, 0.95, 0.999])
    plus, minus = Sign(kappa), Sign(-kappa)
    for name in ("se_q_hat", "psi_out", "gen_error", "gibbs_error"):
        np.testing.assert_allclose(getattr(plus, name)(q), getattr(minus, name)(q),
                                   rtol=1e-12, atol=1e-15, err_msg=name)


def test_sign_se_q_hat_is_smooth_up_to_q_equals_rho():
    # Engel-Van den Broeck form: q_hat/alpha = I(q)/(pi sqrt(1 - q)) with
    # I(1) = int Dt e^{-t^2/2}/Phi(t) = sqrt(2 pi) K, K = int phi(u)^2/Phi(u) du.
    K = integrate.quad(lambda u: np.exp(2 * stats.norm.logpdf(u) - stats.norm.logcdf(u)),
                       -np.inf, np.inf, epsabs=0, epsrel=1e-13)[0]
    V = np.array([1e-6, 1e-9, 1e-12])
    qh = Sign().se_q_hat(1.0 - V)
    assert np.all(np.isfinite(qh))
    np.testing.assert_allclose(qh * np.pi * np.sqrt(V), np.sqrt(2 * np.pi) * K, rtol=2e-5)


# ------------------------------------------------------------------ tails
@pytest.mark.parametrize("kappa", [0.0, 1.0, -2.0])
@pytest.mark.parametrize("V", [1e-12, 1e-3, 1.0])
def test_sign_g_out_tails_are_finite(kappa, V):
    omega = np.linspace(-50, 50, 2001)
    for y in (-1.0, 1.0):
        g, dg = Sign(kappa).g_out(y, omega, V)
        assert np.all(np.isfinite(g)) and np.all(np.isfinite(dg))
        assert np.all(dg <= 0)
        assert np.all(y * g >= 0)  # the estimate moves towards the observed side
        assert np.all(np.isfinite(Sign(kappa).log_z_out(y, omega, V)))


@pytest.mark.parametrize("kappa", [0.0, 1.0, -2.0])
@pytest.mark.parametrize("V", [1e-3, 1.0])
def test_sign_posterior_variance_stays_in_bounds(kappa, V):
    # Var(h | y) = V + V^2 dg lies in [0, V], i.e. -1/V <= dg <= 0; here
    # |u| = |omega - kappa|/sqrt(V) <= 1.6e3.
    omega = np.linspace(-50, 50, 2001)
    for y in (-1.0, 1.0):
        _, dg = Sign(kappa).g_out(y, omega, V)
        assert np.all(V * dg >= -1.0 - 1e-6)


def test_sign_posterior_variance_bound_at_extreme_u():
    # dg = -g (omega/V + g) would cancel catastrophically as u -> -inf
    # (relative error ~ 1e-16 u^2: V*dg = -1.94 at V = 1e-12, omega = -50).
    omega = np.linspace(-50, 50, 2001)
    _, dg = Sign().g_out(1.0, omega, 1e-12)
    assert np.all(1e-12 * dg >= -1.0 - 1e-6)
    # Far on the wrong side the label pins h to the threshold: V dg -> -1 + V/omega^2.
    _, dg_far = Sign().g_out(1.0, np.array([-50.0, -1e3]), 1e-12)
    np.testing.assert_allclose(1e-12 * dg_far, -1 + 1e-12 / np.array([50.0, 1e3]) ** 2, rtol=1e-14)


def test_linear_channel_closed_forms():
    noise, rho = 0.5, 2.0
    channel = Linear(noise)
    q = np.array([0.0, 0.7, 1.9])
    np.testing.assert_allclose(channel.se_q_hat(q, rho), 1 / (noise + rho - q), rtol=1e-15)
    np.testing.assert_allclose(channel.psi_out(q, rho),
                               -0.5 * np.log(2 * np.pi * np.e * (noise + rho - q)), rtol=1e-15)
    np.testing.assert_allclose(channel.gen_error(q, rho), noise + rho - q, rtol=1e-15)
    y, omega, V = np.array([0.3, -2.0]), np.array([1.0, 0.5]), 0.25
    g, dg = channel.g_out(y, omega, V)
    np.testing.assert_allclose(g, (y - omega) / (noise + V), rtol=1e-15)
    np.testing.assert_allclose(dg, -1 / (noise + V), rtol=1e-15)
    np.testing.assert_allclose(channel.log_z_out(y, omega, V),
                               stats.norm.logpdf(y, omega, np.sqrt(noise + V)), rtol=1e-14)
    assert Linear(0.0).noiseless and not channel.noiseless and Sign().noiseless


def test_linear_g_out_tails():
    g, dg = Linear(0.0).g_out(1.0, np.linspace(-50, 50, 101), 1e-12)
    assert np.all(np.isfinite(g)) and np.all(dg < 0)


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize("labels", [[1.0, 0.0], [1.0, 2.0], [-1.0, 0.5], [1.0, np.nan],
                                    [np.inf, 1.0]])
def test_sign_rejects_bad_labels(labels):
    with pytest.raises(ValueError, match="y must"):
        Sign().g_out(np.array(labels), 0.0, 1.0)
    with pytest.raises(ValueError, match="y must"):
        Sign().check_labels(np.array(labels))


def test_linear_rejects_non_finite_labels():
    with pytest.raises(ValueError, match="y must be finite"):
        Linear(0.1).g_out(np.array([0.2, np.nan]), 0.0, 1.0)


@pytest.mark.parametrize("noise", [-0.1, np.nan, np.inf])
def test_linear_rejects_bad_noise(noise):
    with pytest.raises(ValueError, match="noise"):
        Linear(noise)


@pytest.mark.parametrize("kappa", [np.nan, np.inf])
def test_sign_rejects_bad_kappa(kappa):
    with pytest.raises(ValueError, match="kappa"):
        Sign(kappa)


def test_variance_bounds():
    # A noisy channel is defined at V = 0 (the pre-activation is known);
    # a noiseless one is not, and says so.
    g, dg = Linear(0.5).g_out(np.array([1.0]), np.array([0.2]), 0.0)
    np.testing.assert_allclose([g[0], dg[0]], [0.8 / 0.5, -1 / 0.5])
    for channel in [Sign(), Linear(0.0)]:
        with pytest.raises(ValueError, match="V must be > 0"):
            channel.g_out(np.array([1.0]), np.array([0.2]), 0.0)
    with pytest.raises(ValueError, match="V must be >= 0"):
        Linear(0.5).g_out(np.array([1.0]), np.array([0.2]), -1.0)
    with pytest.raises(ValueError, match="V must be"):
        Sign().g_out(np.array([1.0]), np.array([0.2]), np.nan)
