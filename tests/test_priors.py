"""Priors: the generic denoiser contract plus closed forms and precision checks."""

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import expit

from aimnotes import priors
from aimnotes.priors import Gaussian, Prior, Rademacher, _log_cosh
from aimnotes.testing import check_prior

PRIOR_TABLE = [Gaussian(1.0), Gaussian(2.5), Rademacher()]


# ---------------------------------------------------------- generic contract
@pytest.mark.parametrize("prior", PRIOR_TABLE, ids=repr)
def test_check_prior(prior):
    check_prior(prior, rng=0)


def test_check_prior_accepts_a_generator():
    check_prior(Rademacher(), rng=np.random.default_rng(12))


def test_registry_lists_the_priors():
    assert priors.PRIORS == {"gaussian": Gaussian, "rademacher": Rademacher}


# The checker itself must be able to fail: each broken prior violates one clause.
class _NotVectorised(Rademacher):
    def _moments(self, A, B):  # couples the entries of a batch
        mean, var, log_z = super()._moments(A, B)
        return mean + 1e-3 * (B - B.mean()), var, log_z


class _WrongMean(Gaussian):
    def _moments(self, A, B):
        mean, var, log_z = super()._moments(A, B)
        return mean * 1.001, var, log_z


class _WrongVariance(Rademacher):
    def _moments(self, A, B):
        mean, var, log_z = super()._moments(A, B)
        return mean, 1.01 * var, log_z


class _WrongSecondMoment(Rademacher):
    var = 1.2


class _WrongSeQ(Gaussian):
    def _se_q(self, q_hat):
        return 1.05 * super()._se_q(q_hat)


class _WrongPsiIn(Gaussian):
    def _psi_in(self, q_hat):
        return super()._psi_in(q_hat) + 0.02


class _MismatchedSampler(Rademacher):
    def _sample(self, shape, rng):  # same second moment, wrong distribution
        return rng.standard_normal(shape)


@pytest.mark.parametrize(
    "broken, message",
    [
        (_NotVectorised(), "vectorised moments mean"),
        (_WrongMean(), r"mean != d log Z_in / dB"),
        (_WrongVariance(), r"var != d\^2 log Z_in / dB\^2"),
        (_WrongSecondMoment(), "second moment"),
        (_WrongSeQ(), r"se_q\(0.3\)"),
        (_WrongPsiIn(), r"psi_in\(0.3\)"),
        (_MismatchedSampler(), "Nishimori"),
    ],
    ids=lambda x: type(x).__name__ if isinstance(x, Prior) else "",
)
def test_check_prior_detects_broken_priors(broken, message):
    with pytest.raises(AssertionError, match=message):
        check_prior(broken, rng=0)


# ----------------------------------------------------------- Gaussian prior
@pytest.mark.parametrize("var", [1.0, 2.5])
def test_gaussian_closed_forms_match_generic_planted_average(var):
    # The overrides against the base-class quadrature path, at moderate q_hat
    # (the base path loses precision around q_hat * var ~ 25).
    prior = Gaussian(var)
    q_hat = np.array([0.0, 0.01, 0.1, 1.0, 3.0])
    np.testing.assert_allclose(prior.se_q(q_hat), Prior._se_q(prior, q_hat),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(prior.psi_in(q_hat), Prior._psi_in(prior, q_hat),
                               rtol=1e-11, atol=1e-14)
    # ... and against the formulas of the notes, written out independently.
    np.testing.assert_allclose(prior.se_q(q_hat), q_hat * var**2 / (1 + q_hat * var),
                               rtol=1e-14, atol=0)
    np.testing.assert_allclose(prior.psi_in(q_hat),
                               0.5 * (q_hat * var - np.log(1 + q_hat * var)),
                               rtol=1e-12, atol=0)


def test_gaussian_limits():
    prior = Gaussian(2.5)
    assert prior.se_q(0.0) == 0.0
    assert prior.se_q(np.inf) == 2.5
    assert prior.psi_in(0.0) == 0.0
    mean, var, log_z = prior.moments(1e300, 1.0)  # huge precision: no overflow
    assert np.isfinite([mean, var, log_z]).all() and var >= 0


@pytest.mark.parametrize("var", [1.0, 2.5])
def test_gaussian_denoise_is_the_gaussian_posterior(var):
    r = np.array([-2.0, 0.3, 1.7])
    sigma2 = np.array([0.5, 1.0, 3.0])
    mean, post_var, log_ev = Gaussian(var).denoise(r, sigma2)
    np.testing.assert_allclose(mean, var * r / (var + sigma2), rtol=1e-14)
    np.testing.assert_allclose(post_var, var * sigma2 / (var + sigma2), rtol=1e-14)
    np.testing.assert_allclose(log_ev, stats.norm.logpdf(r, scale=np.sqrt(var + sigma2)),
                               rtol=1e-13)


# --------------------------------------------------------- Rademacher prior
def _rademacher_mse_quad(q_hat):
    """1 - q = E_z[2 expit(-2 (q_hat + sqrt(q_hat) z))] by adaptive quadrature."""
    s = np.sqrt(q_hat)

    def f(z):
        return stats.norm.pdf(z) * 2.0 * expit(-2.0 * (q_hat + s * z))

    edges = [-np.inf, -s - 8.0, -s, -s + 8.0, np.inf]  # the step sits at z = -sqrt(q_hat)
    return sum(integrate.quad(f, a, b, epsabs=0.0, epsrel=1e-13, limit=500)[0]
               for a, b in zip(edges[:-1], edges[1:]))


def _rademacher_psi_quad(q_hat):
    s = np.sqrt(q_hat)

    def f(z):
        return stats.norm.pdf(z) * _log_cosh(q_hat + s * z)

    edges = [-np.inf, -s - 8.0, -s, -s + 8.0, np.inf]
    return sum(integrate.quad(f, a, b, epsabs=0.0, epsrel=1e-13, limit=500)[0]
               for a, b in zip(edges[:-1], edges[1:])) - q_hat / 2


# Relative precision of 1 - q reached by the 201-node Gauss-Hermite rule
# (measured: 1e-16 up to q_hat = 1, 3e-7 at 10, 7e-3 at 50). The sigmoid
# step of width 1/sqrt(q_hat) at z = -sqrt(q_hat) moves into the sparse
# tail of the rule, so the relative error grows with q_hat; the absolute
# error on q stays below 1e-9 (max 7e-10, at q_hat = 10).
RADEMACHER_MSE_RTOL = {1e-3: 1e-13, 0.1: 1e-13, 1.0: 1e-13, 10.0: 1e-6, 50.0: 2e-2}


@pytest.mark.parametrize("q_hat", sorted(RADEMACHER_MSE_RTOL))
def test_rademacher_se_q_against_quad(q_hat):
    ref = _rademacher_mse_quad(q_hat)
    prior = Rademacher()
    assert abs((1.0 - prior.se_q(q_hat)) - ref) < 1e-9
    assert abs(prior.se_mse(q_hat) - ref) <= RADEMACHER_MSE_RTOL[q_hat] * ref
    assert abs(prior.psi_in(q_hat) - _rademacher_psi_quad(q_hat)) < 5e-9


@pytest.mark.parametrize("q_hat", [70.0, 100.0])
def test_rademacher_se_mse_relative_precision_beyond_double_precision_of_q(q_hat):
    # 1 - q ~ 1e-16 .. 1e-23: invisible in q itself, still known to ~1% by se_mse
    # (measured 2e-4 at 70, 6e-3 at 100; 15% at q_hat = 200).
    ref = _rademacher_mse_quad(q_hat)
    assert ref < 1e-15
    assert abs(Rademacher().se_mse(q_hat) - ref) < 2e-2 * ref


def test_rademacher_se_vectorised_and_limits():
    prior = Rademacher()
    q_hat = np.array([[0.0, 0.5, 2.0], [8.0, 30.0, np.inf]])
    mse = prior.se_mse(q_hat)
    assert mse.shape == q_hat.shape
    np.testing.assert_array_equal(mse.ravel(), [prior.se_mse(x) for x in q_hat.ravel()])
    assert mse[1, 2] == 0.0 and prior.se_q(np.inf) == 1.0
    assert abs(prior.se_q(0.0)) < 1e-15 and prior.psi_in(0.0) == 0.0
    assert np.all(np.diff(mse.ravel()) < 0)  # error decreases with the SNR


def test_rademacher_moments_tails():
    mean, var, log_z = Rademacher().moments(0.5, np.array([-1e4, -400.0, 400.0, 1e4]))
    np.testing.assert_array_equal(mean, [-1.0, -1.0, 1.0, 1.0])
    assert np.all(np.isfinite(var)) and np.all((var >= 0) & (var < 1e-300))
    np.testing.assert_allclose(log_z, -0.25 + np.abs([-1e4, -400.0, 400.0, 1e4]) - np.log(2),
                               rtol=1e-15)


def test_rademacher_denoise_is_the_binary_posterior():
    r = np.array([-1.5, 0.0, 0.4, 2.0])
    sigma2 = 0.7
    mean, var, log_ev = Rademacher().denoise(r, sigma2)
    p_plus = stats.norm.pdf(r, 1.0, np.sqrt(sigma2))
    p_minus = stats.norm.pdf(r, -1.0, np.sqrt(sigma2))
    np.testing.assert_allclose(mean, (p_plus - p_minus) / (p_plus + p_minus), rtol=1e-13)
    np.testing.assert_allclose(var, 1 - mean**2, rtol=1e-12)
    np.testing.assert_allclose(log_ev, np.log(0.5 * (p_plus + p_minus)), rtol=1e-13)


def test_rademacher_entropy_and_sampler():
    prior = Rademacher()
    assert prior.entropy == np.log(2)
    w = prior.sample((3, 1000), rng=1)
    assert w.shape == (3, 1000) and set(np.unique(w)) == {-1.0, 1.0}
    np.testing.assert_array_equal(w, prior.sample((3, 1000), rng=1))  # seeded


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize("var", [-1.0, 0.0, np.nan, np.inf])
def test_gaussian_rejects_bad_variance(var):
    with pytest.raises(ValueError, match="var"):
        Gaussian(var)


@pytest.mark.parametrize("prior", PRIOR_TABLE, ids=repr)
def test_bad_arguments_name_the_parameter(prior):
    with pytest.raises(ValueError, match="A must be >= 0"):
        prior.moments(-1.0, 0.0)
    for bad in (-0.1, np.nan):
        with pytest.raises(ValueError, match="q_hat"):
            prior.se_q(bad)
        with pytest.raises(ValueError, match="q_hat"):
            prior.psi_in(bad)
    with pytest.raises(ValueError, match="sigma2"):
        prior.denoise(1.0, 0.0)
    with pytest.raises(ValueError, match="r must be finite"):
        prior.denoise(np.nan, 1.0)
