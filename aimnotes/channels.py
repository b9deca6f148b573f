r"""Scalar output channels :math:`P_{\rm out}(y \mid h)` of generalised linear models.

A channel enters message passing through its *output partition function*

.. math::

    Z_{\rm out}(y; \omega, V) = \int dh\, P_{\rm out}(y \mid h)\,
    \mathcal{N}(h; \omega, V),

with :math:`g_{\rm out} = \partial_\omega \log Z_{\rm out}` and its derivative
:math:`\partial_\omega g_{\rm out}`, and into state evolution through the
Bayes-optimal averages over :math:`\omega = \sqrt{q}\,\xi`,
:math:`V = \rho - q`:

.. math::

    \frac{\hat q}{\alpha} = \mathbb{E}_\xi \int dy\, Z_{\rm out}\, g_{\rm out}^2,
    \qquad
    \Psi_{\rm out}(q) = \mathbb{E}_\xi \int dy\, Z_{\rm out} \log Z_{\rm out}.

References
----------
.. [1] J. Barbier et al., PNAS 116, 5451 (2019), arXiv:1708.03395.
.. [2] S. Rangan, "Generalized approximate message passing for estimation
   with random linear mixing", ISIT 2011.
"""

import numpy as np
from scipy.special import erfcx, log_ndtr, ndtr, owens_t

from ._validation import as_float_array, check_in_range, check_nonnegative
from .quadrature import gauss_hermite

__all__ = ["Channel", "Sign", "Linear", "CHANNELS", "mills", "mills_excess"]

_SQRT_2_OVER_PI = np.sqrt(2.0 / np.pi)


def mills(u):
    r"""Inverse Mills ratio :math:`\varphi(u)/\Phi(u)`, stable for all ``u``."""
    return _SQRT_2_OVER_PI / erfcx(-np.asarray(u, dtype=float) / np.sqrt(2.0))


def mills_excess(u, ratio=None):
    r""":math:`u + \varphi(u)/\Phi(u)`, without cancellation as :math:`u \to -\infty`.

    For :math:`t = -u > 3` it is the continued fraction
    :math:`1/(t + 2/(t + 3/(t + \dots)))` of the Mills ratio, which keeps
    full relative precision where the direct sum cancels. ``ratio``, if
    given, is ``mills(u)`` already computed.
    """
    u = np.asarray(u, dtype=float)
    out = u + (mills(u) if ratio is None else ratio)
    far = u < -3.0
    if np.any(far):
        t = -u[far]
        tail = np.zeros_like(t)
        for k in range(40, 1, -1):  # evaluated from the tail, fixed depth
            tail = k / (t + tail)
        out[far] = 1.0 / (t + tail)
    return out


def _two_sided_mills(a):
    r""":math:`\varphi(a)/(\Phi(a)\Phi(-a)) = \varphi/\Phi(a) + \varphi/\Phi(-a)`, even in ``a``.

    With :math:`t = |a|` and :math:`E = \operatorname{erfcx}(t/\sqrt2)`,
    :math:`\Phi(-t) = \tfrac12 E e^{-t^2/2}`, so one ``erfcx`` serves both terms.
    """
    t = np.abs(a)
    e = erfcx(t / np.sqrt(2.0))
    return _SQRT_2_OVER_PI / (e * (1.0 - 0.5 * e * np.exp(-0.5 * t * t)))


def _norm_pdf(x):
    return np.exp(-0.5 * x**2) / np.sqrt(2.0 * np.pi)


def _check_variance(V, strict):
    V = np.asarray(V, dtype=float)
    if not np.all(V > 0 if strict else V >= 0):
        bound = "> 0" if strict else ">= 0"
        raise ValueError(f"V must be {bound} (a variance), got {V if V.ndim == 0 else 'an array'}")
    return V


class Channel:
    """Base class of output channels.

    Subclasses implement ``_g_out``, ``_log_z_out``, ``_sample``,
    ``_check_labels`` and the state-evolution averages ``se_q_hat``,
    ``psi_out`` and ``gen_error``; ``noiseless`` says whether
    ``y`` determines the label deterministically from ``h``.
    """

    noiseless = False

    def g_out(self, y, omega, V):
        r"""Output function and its derivative in :math:`\omega`.

        Parameters
        ----------
        y : array_like
            Labels (checked against the channel's alphabet).
        omega : array_like
            Mean of the pre-activation estimate; broadcast against ``y``.
        V : array_like
            Its variance: ``> 0`` for noiseless channels, ``>= 0`` otherwise.

        Returns
        -------
        g, dg : ndarray
            :math:`g_{\rm out}(y; \omega, V)` and
            :math:`\partial_\omega g_{\rm out}(y; \omega, V)`.
        """
        return self._g_out(self.check_labels(y), np.asarray(omega, float),
                           _check_variance(V, self.noiseless))

    def log_z_out(self, y, omega, V):
        r""":math:`\log Z_{\rm out}(y; \omega, V)`, elementwise."""
        return self._log_z_out(self.check_labels(y), np.asarray(omega, float),
                              _check_variance(V, self.noiseless))

    def sample(self, h, rng=None):
        """Labels drawn from :math:`P_{\\rm out}(\\cdot \\mid h)`."""
        return self._sample(np.asarray(h, dtype=float), np.random.default_rng(rng))

    def check_labels(self, y):
        """Return ``y`` as a float array, or raise ``ValueError``."""
        return self._check_labels(as_float_array(y, "y"))

    def se_q_hat(self, q, rho=1.0):
        r""":math:`\hat q/\alpha` at overlap ``q`` for a prior of second moment ``rho``."""
        raise NotImplementedError

    def psi_out(self, q, rho=1.0):
        r"""Channel term :math:`\Psi_{\rm out}(q)` of the free entropy."""
        raise NotImplementedError

    def gen_error(self, q, rho=1.0):
        """Bayes-optimal test error at overlap ``q``."""
        raise NotImplementedError

    def test_error(self, x_hat, x_true):
        r"""Exact test error of the plug-in predictor built on ``x_hat``.

        For Gaussian inputs :math:`x \sim \mathcal{N}(0, I_d/d)` the
        pre-activations of estimate and teacher are jointly Gaussian, so
        the error follows from three numbers, :math:`\|\hat w\|^2/d`,
        :math:`\|w^\star\|^2/d` and :math:`\hat w\cdot w^\star/d`, without
        sampling a test set. At the Nishimori point
        (:math:`\|\hat w\|^2 = \hat w\cdot w^\star = qd`) it equals
        :meth:`gen_error`.
        """
        x_hat = as_float_array(x_hat, "x_hat")
        x_true = as_float_array(x_true, "x_true")
        if x_hat.shape != x_true.shape:
            raise ValueError(f"x_hat has shape {x_hat.shape}, x_true has shape {x_true.shape}")
        d = x_true.shape[-1]
        return self._test_error(x_hat @ x_hat / d, x_true @ x_true / d, x_hat @ x_true / d)


class Sign(Channel):
    r"""Noiseless threshold channel :math:`y = \operatorname{sign}(h - \kappa)`.

    ``kappa`` is a threshold on the pre-activation (``kappa = 0`` is the
    teacher-student perceptron); it is *not* Gardner's stability margin.

    Parameters
    ----------
    kappa : float
        Threshold; the fraction of positive labels is
        :math:`\Phi(-\kappa/\sqrt\rho)`.

    Notes
    -----
    With :math:`u = y(\omega - \kappa)/\sqrt V`, :math:`Z_{\rm out} = \Phi(u)`,

    .. math::

        g_{\rm out} = \frac{y}{\sqrt V}\frac{\varphi(u)}{\Phi(u)}, \qquad
        \partial_\omega g_{\rm out} = -g_{\rm out}
        \Big(\frac{\omega - \kappa}{V} + g_{\rm out}\Big),

    with :math:`\varphi/\Phi` evaluated through ``erfcx`` so that both stay
    finite in the tails. In state evolution, with
    :math:`a = (\sqrt q\,\xi - \kappa)/\sqrt V` and the change of variables
    :math:`\xi \to a` (exact, and smooth as :math:`q \to \rho`),

    .. math::

        \frac{\hat q}{\alpha} = \frac1V \mathbb{E}_\xi
        \frac{\varphi(a)^2}{\Phi(a)\Phi(-a)}
        = \frac{\varphi(\kappa/\sqrt\rho)}{\sqrt{V\rho}}\,
        \mathbb{E}_{a \sim \mathcal{N}(-\kappa\sqrt V/\rho,\, q/\rho)}
        \Big[\frac{\varphi(a)}{\Phi(a)} + \frac{\varphi(a)}{\Phi(-a)}\Big],

    which makes the :math:`1/\sqrt V` singularity explicit and leaves a
    smooth integrand for Gauss-Hermite quadrature (at ``kappa = 0`` it is
    the Engel-Van den Broeck form). The same substitution is used for
    :math:`\Psi_{\rm out} = \mathbb{E}_\xi[\Phi(a)\log\Phi(a) +
    \Phi(-a)\log\Phi(-a)]`. The Bayes-optimal classification error is
    :math:`2\,T(\kappa/\sqrt\rho, \sqrt{V/q})` with Owen's :math:`T`,
    equal to :math:`\arccos\sqrt{q/\rho}/\pi` at ``kappa = 0``.
    """

    noiseless = True
    n_nodes = 61

    def __init__(self, kappa=0.0):
        self.kappa = float(check_in_range(kappa, "kappa", -np.inf, np.inf))

    def _check_labels(self, y):
        if not np.all(np.abs(y) == 1.0):
            raise ValueError("y must take values in {-1, +1} for the Sign channel")
        return y

    def _sample(self, h, rng):
        return np.where(h > self.kappa, 1.0, -1.0)

    def _g_out(self, y, omega, V):
        sqrt_v = np.sqrt(V)
        u = y * (omega - self.kappa) / sqrt_v
        ratio = mills(u)
        # dg = -g ((omega - kappa)/V + g), written without cancellation.
        return y * ratio / sqrt_v, -ratio * mills_excess(u, ratio) / V

    def _log_z_out(self, y, omega, V):
        return log_ndtr(y * (omega - self.kappa) / np.sqrt(V))

    def _a_average(self, q, rho, fn):
        # sqrt(V/rho) phi(kappa/sqrt(rho)) E_{a ~ N(mu, q/rho)} fn(a), see Notes.
        a_nodes, w = gauss_hermite(self.n_nodes)
        q = np.asarray(q, dtype=float)
        V = np.maximum(rho - q, 0.0)
        mu = -self.kappa * np.sqrt(V) / rho
        a = mu[..., None] + np.sqrt(np.maximum(q, 0.0) / rho)[..., None] * a_nodes
        mean = np.sum(w * fn(np.clip(a, -30.0, 30.0)), axis=-1)
        return V, _norm_pdf(self.kappa / np.sqrt(rho)) * mean

    def se_q_hat(self, q, rho=1.0):  # noqa: D102 (documented on the class)
        V, avg = self._a_average(q, rho, _two_sided_mills)
        with np.errstate(divide="ignore"):
            return avg / np.sqrt(V * rho)

    def psi_out(self, q, rho=1.0):  # noqa: D102
        def k(a):
            # (Phi log Phi)(a) + (Phi log Phi)(-a), divided by phi(a).
            ratio = log_ndtr(a) / ndtr(-a) + log_ndtr(-a) / ndtr(a)
            return ratio / _two_sided_mills(a)

        V, avg = self._a_average(q, rho, k)
        return np.sqrt(V / rho) * avg

    def gen_error(self, q, rho=1.0):
        r"""Bayes-optimal 0-1 error :math:`2\,T(\kappa/\sqrt\rho, \sqrt{(\rho-q)/q})`."""
        q = np.asarray(q, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.sqrt(np.maximum(rho - q, 0.0) / q)
        return 2.0 * owens_t(self.kappa / np.sqrt(rho), slope)

    def _test_error(self, sq_norm, rho, m):
        # P[sign(a - kappa) != sign(b - kappa)] for a ~ N(0, sq_norm),
        # b ~ N(0, rho), cov m. Owen's T: Phi(h) + Phi(k) - 2 Phi_2(h, k; r)
        # with h = kappa/sqrt(sq_norm), k = kappa/sqrt(rho).
        if sq_norm == 0.0:
            return float(ndtr(-abs(self.kappa) / np.sqrt(rho)))
        r = np.clip(m / np.sqrt(sq_norm * rho), -1.0, 1.0)
        if self.kappa == 0.0:
            return float(np.arccos(r) / np.pi)
        h, k = self.kappa / np.sqrt(sq_norm), self.kappa / np.sqrt(rho)
        s = np.sqrt(max(1.0 - r * r, 0.0))
        if s == 0.0:
            return float(abs(ndtr(h) - ndtr(k)))
        return float(2 * owens_t(h, (k - r * h) / (h * s)) + 2 * owens_t(k, (h - r * k) / (k * s)))

    def gibbs_error(self, q, rho=1.0):
        r"""0-1 error of one posterior sample, :math:`\arccos(q/\rho)/\pi` at ``kappa = 0``.

        In general :math:`4\,T(\kappa/\sqrt\rho, \sqrt{(1 - r)/(1 + r)})`
        with :math:`r = q/\rho`, the probability that two Gaussians of
        correlation :math:`r` fall on opposite sides of the threshold.
        """
        r = np.asarray(q, dtype=float) / rho
        return 4.0 * owens_t(self.kappa / np.sqrt(rho), np.sqrt((1 - r) / (1 + r)))

    def __repr__(self):
        return f"Sign(kappa={self.kappa:g})"


class Linear(Channel):
    r"""Additive Gaussian noise channel :math:`y = h + \sqrt{\Delta}\,\xi`.

    Parameters
    ----------
    noise : float
        Noise variance :math:`\Delta \ge 0`.

    Notes
    -----
    :math:`g_{\rm out} = (y - \omega)/(\Delta + V)`,
    :math:`\partial_\omega g_{\rm out} = -1/(\Delta + V)`,
    :math:`\hat q/\alpha = 1/(\Delta + \rho - q)`,
    :math:`\Psi_{\rm out} = -\tfrac12\log(2\pi e(\Delta + \rho - q))` and the
    Bayes-optimal test error is the label MSE :math:`\Delta + \rho - q`.
    """

    def __init__(self, noise=0.0):
        self.noise = float(check_nonnegative(noise, "noise"))
        self.noiseless = self.noise == 0.0

    def _check_labels(self, y):
        return y

    def _sample(self, h, rng):
        if self.noise == 0.0:
            return h.copy()
        return h + np.sqrt(self.noise) * rng.standard_normal(h.shape)

    def _g_out(self, y, omega, V):
        var = self.noise + V
        return (y - omega) / var, np.broadcast_to(-1.0 / var, np.broadcast(y, omega, V).shape)

    def _log_z_out(self, y, omega, V):
        var = self.noise + V
        return -0.5 * (y - omega) ** 2 / var - 0.5 * np.log(2 * np.pi * var)

    def se_q_hat(self, q, rho=1.0):  # noqa: D102
        with np.errstate(divide="ignore"):
            return 1.0 / (self.noise + rho - np.asarray(q, dtype=float))

    def psi_out(self, q, rho=1.0):  # noqa: D102
        with np.errstate(divide="ignore"):
            return -0.5 * np.log(2 * np.pi * np.e * (self.noise + rho - np.asarray(q, float)))

    def gen_error(self, q, rho=1.0):
        """Test mean squared error of the labels, :math:`\\Delta + \\rho - q`."""
        return self.noise + rho - np.asarray(q, dtype=float)

    def _test_error(self, sq_norm, rho, m):
        # E (x.(w_hat - w))^2 + noise = |w_hat - w|^2/d + noise.
        return float(self.noise + sq_norm + rho - 2 * m)

    def __repr__(self):
        return f"Linear(noise={self.noise:g})"


#: The channels of the book, by name (used by the generic tests).
CHANNELS = {"sign": Sign, "linear": Linear}
