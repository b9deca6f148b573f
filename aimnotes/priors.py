r"""Scalar priors as vectorised denoisers.

A prior :math:`P_0` on one weight enters message passing and state
evolution only through its *input partition function*

.. math::

    Z_{\rm in}(A, B) = \int dP_0(w)\, e^{-A w^2/2 + B w},

whose derivatives in :math:`B` are the posterior mean
:math:`f_a = \partial_B \log Z_{\rm in}` and variance
:math:`f_c = \partial_B f_a` of :math:`w` observed through the Gaussian
channel :math:`B/A = w + \mathcal{N}(0, 1/A)`, i.e. ``r = x + sqrt(sigma2) z``
with ``A = 1/sigma2`` and ``B = r/sigma2``.

State evolution needs two Gaussian averages over the planted signal
:math:`w_0 \sim P_0` and :math:`z \sim \mathcal{N}(0, 1)`, with
:math:`B = \hat q w_0 + \sqrt{\hat q} z`:

.. math::

    q(\hat q) = \mathbb{E}\, f_a(\hat q, B)^2, \qquad
    \psi_{\rm in}(\hat q) = \mathbb{E} \log Z_{\rm in}(\hat q, B).

The base class computes both for any prior from :meth:`Prior.moments`
through the identity :math:`p(B) = \mathcal{N}(B; 0, \hat q)\,
Z_{\rm in}(\hat q, B)`; the concrete priors override them with forms that
stay accurate for large :math:`\hat q`.

References
----------
.. [1] J. Barbier, F. Krzakala, N. Macris, L. Miolane, L. Zdeborová,
   "Optimal errors and phase transitions in high-dimensional generalized
   linear models", PNAS 116, 5451 (2019).
"""

from functools import lru_cache

import numpy as np
from scipy.special import expit

from ._validation import as_float_array, check_nonnegative, check_positive
from .quadrature import gauss_hermite, gauss_legendre

__all__ = ["Prior", "Gaussian", "Rademacher", "PRIORS"]


def _log_cosh(x):
    """``log cosh(x)`` without overflow."""
    ax = np.abs(x)
    return ax + np.log1p(np.exp(-2.0 * ax)) - np.log(2.0)


class Prior:
    """Base class of scalar priors (zero mean, second moment ``var``).

    Subclasses implement ``_moments(A, B)`` and ``_sample(shape, rng)``
    and set ``var`` (the second moment :math:`\\rho = \\mathbb{E} w^2`) and
    ``entropy`` (Shannon entropy of a discrete prior, ``inf`` for a
    continuous one: the free entropy of the perfect-recovery branch is
    ``-entropy``).
    """

    var = 1.0
    entropy = np.inf
    n_nodes = 201

    # ----------------------------------------------------------- denoising
    def moments(self, A, B):
        r"""Posterior mean, variance and log-normaliser, elementwise.

        Parameters
        ----------
        A : array_like
            Precision of the Gaussian observation, ``A >= 0``.
        B : array_like
            Precision-weighted observation; broadcast against ``A``.

        Returns
        -------
        mean, var, log_z : ndarray
            :math:`f_a(A, B)`, :math:`f_c(A, B)` and
            :math:`\log Z_{\rm in}(A, B)`.
        """
        A = np.asarray(A, dtype=float)
        B = np.asarray(B, dtype=float)
        if np.any(A < 0):
            raise ValueError("A must be >= 0 (a precision)")
        A, B = np.broadcast_arrays(A, B)
        return self._moments(A, B)

    def denoise(self, r, sigma2):
        r"""Posterior of ``x ~ P_0`` given ``r = x + sqrt(sigma2) z``.

        Parameters
        ----------
        r : array_like
            Noisy observations.
        sigma2 : array_like
            Noise variance, ``> 0``; broadcast against ``r``.

        Returns
        -------
        mean, var : ndarray
            Posterior mean and variance of ``x``.
        log_evidence : ndarray
            :math:`\log p(r) = \log Z_{\rm in}(1/\sigma^2, r/\sigma^2)
            - r^2/(2\sigma^2) - \tfrac12 \log(2\pi\sigma^2)`.
        """
        r = as_float_array(r, "r")
        sigma2 = check_positive(sigma2, "sigma2")
        mean, var, log_z = self.moments(1.0 / sigma2, r / sigma2)
        log_evidence = log_z - r**2 / (2 * sigma2) - 0.5 * np.log(2 * np.pi * sigma2)
        return mean, var, log_evidence

    def sample(self, shape, rng=None):
        """Draw i.i.d. weights of the given shape from the prior."""
        return self._sample(shape, np.random.default_rng(rng))

    # ------------------------------------------------------ state evolution
    def se_q(self, q_hat):
        r"""Overlap :math:`q = \mathbb{E} f_a(\hat q, \hat q w_0 + \sqrt{\hat q} z)^2`.

        Vectorised over ``q_hat >= 0``; ``q_hat = inf`` gives ``var``.
        """
        q_hat = np.asarray(q_hat, dtype=float)
        if np.any(np.isnan(q_hat) | (q_hat < 0)):
            raise ValueError("q_hat must be >= 0 (inf allowed), got NaN or a negative value")
        return self._se_q(q_hat)

    def psi_in(self, q_hat):
        r"""Prior term :math:`\psi_{\rm in}(\hat q) = \mathbb{E}\log Z_{\rm in}`."""
        q_hat = check_nonnegative(q_hat, "q_hat")
        return self._psi_in(q_hat)

    def _planted_average(self, q_hat, fn):
        # E_{w0, z} fn(mean, var, log_z) with B = q_hat w0 + sqrt(q_hat) z,
        # written as E_z[Z_in(q_hat, sqrt(q_hat) z) fn(...)] (Nishimori).
        # Accurate for moderate q_hat only: a reference for the overrides.
        z, w = gauss_hermite(self.n_nodes)
        q_hat = np.asarray(q_hat, dtype=float)[..., None]
        mean, var, log_z = self._moments(q_hat, np.sqrt(q_hat) * z)
        return np.sum(w * np.exp(log_z) * fn(mean, var, log_z), axis=-1)

    def _se_q(self, q_hat):
        return self._planted_average(q_hat, lambda m, v, lz: m**2)

    def _psi_in(self, q_hat):
        return self._planted_average(q_hat, lambda m, v, lz: lz)

    def __repr__(self):
        return f"{type(self).__name__}()"


class Gaussian(Prior):
    r"""Gaussian prior :math:`P_0 = \mathcal{N}(0, \mathrm{var})`.

    Notes
    -----
    :math:`f_a = B v/(1 + A v)`, :math:`f_c = v/(1 + A v)`,
    :math:`q(\hat q) = \hat q v^2/(1 + \hat q v)` and
    :math:`\psi_{\rm in} = \tfrac12[\hat q v - \log(1 + \hat q v)]`.
    """

    def __init__(self, var=1.0):
        self.var = float(check_positive(var, "var"))

    def _moments(self, A, B):
        v = self.var
        denom = 1.0 + A * v
        mean = B * v / denom
        var = v / denom
        log_z = B**2 * v / (2 * denom) - 0.5 * np.log(denom)
        return mean, var, log_z

    def _sample(self, shape, rng):
        return np.sqrt(self.var) * rng.standard_normal(shape)

    def _se_q(self, q_hat):
        v = self.var
        with np.errstate(invalid="ignore"):
            q = np.where(np.isinf(q_hat), v, q_hat * v**2 / (1.0 + q_hat * v))
        return q

    def _psi_in(self, q_hat):
        x = q_hat * self.var
        return 0.5 * (x - np.log1p(x))

    def __repr__(self):
        return f"Gaussian(var={self.var:g})"


#: Gauss-Hermite nodes of the smooth state-evolution averages (exact to
#: machine precision for q_hat <= 1, where they are used).
SE_NODES = 101


@lru_cache(maxsize=1)
def _sech_rule():
    # Gauss-Legendre on [-40, 40] with the sech factor folded into the weights.
    t, w = gauss_legendre(400, -40.0, 40.0)
    return t, w / np.cosh(t)


class Rademacher(Prior):
    r"""Binary prior :math:`P_0 = \tfrac12(\delta_{+1} + \delta_{-1})`.

    Notes
    -----
    :math:`f_a = \tanh B`, :math:`f_c = 1 - \tanh^2 B`,
    :math:`\log Z_{\rm in} = -A/2 + \log\cosh B`. In state evolution
    (planted :math:`w_0 = 1` by symmetry) :math:`q = \mathbb{E}_z
    \tanh(\hat q + \sqrt{\hat q} z)`, evaluated as
    :math:`1 - 2\,\mathbb{E}_z\,\mathrm{expit}(-2(\hat q + \sqrt{\hat q} z))`
    so that the error :math:`1 - q` keeps its relative precision, and
    :math:`\psi_{\rm in} = \mathbb{E}_z \log\cosh(\hat q + \sqrt{\hat q} z)
    - \hat q/2`. The perfect-recovery branch has free entropy
    :math:`-\log 2`.
    """

    var = 1.0
    entropy = np.log(2.0)

    def _moments(self, A, B):
        mean = np.tanh(B)
        var = 1.0 / np.cosh(np.clip(B, -350, 350)) ** 2
        log_z = -A / 2 + _log_cosh(B)
        return mean, var, log_z

    def _sample(self, shape, rng):
        return rng.choice(np.array([-1.0, 1.0]), size=shape)

    def _field(self, q_hat, n_nodes=None):
        z, w = gauss_hermite(n_nodes or self.n_nodes)
        q_hat = np.asarray(q_hat, dtype=float)[..., None]
        return q_hat + np.sqrt(q_hat) * z, w

    def se_mse(self, q_hat):
        r"""Error :math:`1 - q(\hat q)`, with full relative precision.

        For :math:`\hat q \le 1`, :math:`2\,\mathbb{E}_z\,\mathrm{expit}(-2(\hat q
        + \sqrt{\hat q} z))` by Gauss-Hermite. For larger :math:`\hat q` the
        integrand is a spike far in the Gaussian tail, so the Nishimori
        form :math:`1 - q = e^{-\hat q/2}\,\mathbb{E}_z \operatorname{sech}
        (\sqrt{\hat q} z)` is integrated in :math:`t = \sqrt{\hat q} z` by
        Gauss-Legendre on :math:`[-40, 40]`.
        """
        q_hat = np.asarray(q_hat, dtype=float)
        mse = np.zeros(q_hat.shape)
        small = q_hat <= 1.0
        if np.any(small):
            x, w = self._field(q_hat[small], SE_NODES)
            mse[small] = np.sum(w * 2.0 * expit(-2.0 * x), axis=-1)
        large = (q_hat > 1.0) & np.isfinite(q_hat)
        if np.any(large):
            t, w_sech = _sech_rule()
            qh = q_hat[large][..., None]
            mse[large] = (np.sum(w_sech * np.exp(-0.5 * t**2 / qh - 0.5 * qh), axis=-1)
                          / np.sqrt(2 * np.pi * q_hat[large]))
        return mse

    def _se_q(self, q_hat):
        return 1.0 - self.se_mse(q_hat)

    def _psi_in(self, q_hat):
        x, w = self._field(q_hat)
        return np.sum(w * _log_cosh(x), axis=-1) - q_hat / 2


#: The priors of the book, by name (used by the generic tests).
PRIORS = {"gaussian": Gaussian, "rademacher": Rademacher}
