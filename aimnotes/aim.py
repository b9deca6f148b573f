r"""The attention-indexed model (AIM): channels, state evolution, GAMP-RIE.

One sample is a sequence of :math:`T` tokens :math:`X \in \mathbb{R}^{T\times d}`
with i.i.d. :math:`\mathcal{N}(0, 1)` entries; the teacher is a tied
key-query matrix :math:`S = W W^\top/\sqrt{r d}`, :math:`W \in
\mathbb{R}^{d\times r}` with i.i.d. standard Gaussian entries,
:math:`\rho = r/d`; the attention indices are the symmetric
:math:`T\times T` matrix

.. math::

    h = \frac{X S X^\top - \operatorname{Tr}(S)\, I_T}{\sqrt d},

and the label is a row-wise function of :math:`h` (softmax, hardmax or
the identity). There are :math:`n = \alpha d^2` samples. The quadratic
network is the case :math:`T = 1` with a linear output.

The independent entries of :math:`h` are those with :math:`a \le b`; they
are jointly Gaussian with covariance :math:`Q_0 K`, :math:`K_{ab} = 1 +
\delta_{ab}`, :math:`Q_0 = 1 + \rho`. Matrices of output functions ``G`` are
stored symmetric: ``G[a, b] = G[b, a]`` is the derivative with respect to
the single entry :math:`h_{ab}`, :math:`a \le b`.

References
----------
.. [1] L. Boncoraglio, E. Troiani, V. Erba, L. Zdeborová, "Bayes optimal
   learning of attention-indexed models", arXiv:2506.01582 (2025).
.. [2] A. Maillard, E. Troiani, S. Martin, F. Krzakala, L. Zdeborová,
   "Bayes-optimal learning of an extensive-width neural network from
   quadratically many samples", arXiv:2408.03733 (2024).
"""

import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.interpolate import PchipInterpolator

from . import _hardmax, rmt
from ._validation import (
    as_float_array,
    check_nonnegative,
    check_positive,
    check_positive_int,
    scalar_or_array,
)
from .solvers import ConvergenceWarning, fixed_point

__all__ = [
    "Linear",
    "Softmax",
    "Hardmax",
    "sample",
    "attention_indices",
    "state_evolution",
    "AIMStateEvolution",
    "perfect_recovery_threshold",
    "small_width_state_evolution",
    "weak_recovery_threshold",
    "gamp_rie",
    "GAMPRIEResult",
]


def _K(T):
    return 1.0 + np.eye(T)


def _quadratic_form(G):
    r""":math:`g^\top K g = 2\sum_a g_{aa}^2 + \sum_{a<b} g_{ab}^2` per sample."""
    diag = np.einsum("...aa->...a", G)
    total = np.sum(G**2, axis=(-2, -1))  # off-diagonal pairs counted twice
    return 0.5 * total + 1.5 * np.sum(diag**2, axis=-1)


# ------------------------------------------------------------------ channels
class AIMChannel:
    """Base class of the AIM output channels (one row-wise function of ``h``).

    Attributes
    ----------
    T : int
        Number of tokens.
    counting_constant : float or None
        :math:`c`, twice the number of independent scalar observations per
        sample, for channels equivalent to a noiseless linear measurement
        (then state evolution has a closed form); ``None`` otherwise.
    """

    counting_constant = None

    def sample(self, h, rng=None):
        """Labels from the indices ``h`` of shape (n, T, T)."""
        return self._sample(self._check_indices(h), np.random.default_rng(rng))

    def _check_indices(self, h):
        h = as_float_array(h, "h")
        if h.ndim != 3 or h.shape[1:] != (self.T, self.T):
            raise ValueError(f"h must have shape (n, {self.T}, {self.T}), got {h.shape}")
        return h

    def fisher(self, q, V):
        r""":math:`\mathbb{E}[g_{\rm out}^\top K g_{\rm out}]` at overlap ``q``, variance ``V``.

        State evolution sets :math:`\hat q = 2\alpha` times this.
        """
        raise NotImplementedError


class Linear(AIMChannel):
    r"""Identity output, :math:`y_{ab} = h_{ab} + \sqrt{\Delta_y}\,\xi_{ab}` on :math:`a \le b`.

    With ``T = 1`` this is the quadratic network of Maillard et al. (2024).

    Parameters
    ----------
    T : int
        Number of tokens, ``>= 1``.
    noise : float
        Label noise variance :math:`\Delta_y \ge 0`.

    Notes
    -----
    :math:`g_{ab} = (y_{ab} - \omega_{ab})/(V K_{ab} + \Delta_y)` and
    :math:`\mathbb{E}[g^\top K g] = \sum_{a \le b} K_{ab}/(V K_{ab} + \Delta_y)`;
    noiseless, :math:`\hat q = \alpha T(T+1)/(Q_0 - q)`, counting constant
    :math:`c = T(T+1)`.
    """

    def __init__(self, T, noise=0.0):
        self.T = check_positive_int(T, "T")
        self.noise = float(check_nonnegative(noise, "noise"))
        self.counting_constant = float(self.T * (self.T + 1)) if self.noise == 0 else None

    def _sample(self, h, rng):
        if self.noise == 0:
            return h.copy()
        xi = rng.standard_normal(h.shape)
        xi = np.triu(xi) + np.swapaxes(np.triu(xi, 1), -1, -2)  # one draw per a <= b
        return h + np.sqrt(self.noise) * xi

    def check_labels(self, y):
        """Labels as a float array of shape (n, T, T), symmetric."""
        y = self._check_indices(y)
        if not np.allclose(y, np.swapaxes(y, -1, -2)):
            raise ValueError("y must be symmetric in its last two axes for the Linear channel")
        return y

    def g_out(self, y, omega, V):
        """Output functions, shape (n, T, T), for a scalar variance ``V``."""
        return (y - omega) / (V * _K(self.T) + self.noise)

    def fisher(self, q, V):  # noqa: D102 (documented on the base class)
        V = np.asarray(V, dtype=float)
        T = self.T
        with np.errstate(divide="ignore"):
            return T * 2.0 / (2.0 * V + self.noise) + T * (T - 1) / 2.0 / (V + self.noise)

    def __repr__(self):
        return f"Linear(T={self.T}, noise={self.noise:g})"


class Softmax(AIMChannel):
    r"""Row-wise softmax output, :math:`y_{ab} = e^{\beta h_{ab}}/\sum_c e^{\beta h_{ac}}`.

    Parameters
    ----------
    T : int
        Number of tokens, ``>= 2``.
    beta : float
        Inverse temperature, ``> 0``.

    Notes
    -----
    The softmax of a symmetric :math:`h` determines :math:`h` up to one global
    shift :math:`h \to h + mJ`: it is a noiseless linear channel on the
    :math:`T(T+1)/2 - 1` directions orthogonal to :math:`J`, whatever
    :math:`\beta`, with counting constant :math:`c = T^2 + T - 2`. The output
    function recovers :math:`h^{\rm obs} = h - \text{const}` from
    :math:`\beta^{-1}\log y` and the symmetry of :math:`h`, estimates the
    shift :math:`\hat m = \sum_{a\le b} K_{ab}^{-1}(\omega_{ab} -
    h^{\rm obs}_{ab})/\sum_{a\le b} K_{ab}^{-1}` and returns
    :math:`g = (VK)^{-1}(h^{\rm obs} + \hat m J - \omega)`.
    """

    def __init__(self, T, beta=1.0):
        self.T = check_positive_int(T, "T")
        if self.T < 2:
            raise ValueError("T must be >= 2 for the Softmax channel (T = 1 gives y = 1)")
        self.beta = float(check_positive(beta, "beta"))
        self.counting_constant = float(self.T**2 + self.T - 2)

    def _sample(self, h, rng):
        z = self.beta * h
        z = z - z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    def check_labels(self, y):
        """Labels as probabilities of shape (n, T, T), rows summing to 1."""
        y = self._check_indices(y)
        if np.any(y <= 0) or not np.allclose(y.sum(axis=-1), 1.0):
            raise ValueError("y must hold positive softmax probabilities with rows summing to 1")
        return y

    def observed_indices(self, y):
        r""":math:`h^{\rm obs} = h - \text{const}` from the labels (shape (n, T, T))."""
        log_y = np.log(y) / self.beta
        shift = log_y[:, :1, :] - np.swapaxes(log_y[:, :, :1], -1, -2)  # l_a = log y_1a - log y_a1
        return log_y + np.swapaxes(shift, -1, -2)

    def g_out(self, y, omega, V):  # noqa: D102
        h_obs = self.observed_indices(y)
        K_inv = np.triu(1.0 / _K(self.T))  # weights of the independent entries a <= b
        m_hat = np.sum(K_inv * (omega - h_obs), axis=(-2, -1)) / K_inv.sum()
        return (h_obs + m_hat[:, None, None] - omega) / (V * _K(self.T))

    def fisher(self, q, V):  # noqa: D102
        with np.errstate(divide="ignore"):
            return self.counting_constant / (2.0 * np.asarray(V, dtype=float))

    def __repr__(self):
        return f"Softmax(T={self.T}, beta={self.beta:g})"


class Hardmax(AIMChannel):
    r"""Row-wise argmax output (``T = 2`` only), :math:`y_{ab} = 1[b = \arg\max_c h_{ac}]`.

    Parameters
    ----------
    T : int
        Must be 2: larger ``T`` needs :math:`T(T-1)`-dimensional orthant
        probabilities.
    derivative : {"exact", "released"}
        ``"exact"`` uses the gradient of :math:`\log\Phi_2`;
        ``"released"`` reproduces the authors' released code, which puts the
        bivariate density :math:`\varphi_2/\Phi_2` where the gradient
        belongs. It is not a Bayes-optimal error and is kept only to show
        the difference.

    Notes
    -----
    With :math:`u_1 = \omega_{11} - \omega_{12}`, :math:`u_2 = \omega_{22} -
    \omega_{12}`, :math:`s_a = \pm1` whether row :math:`a` picks its own token,
    :math:`Z_{\rm out} = \Phi_2(s_1u_1/\sqrt{3V}, s_2u_2/\sqrt{3V}; s_1s_2/3)`.
    """

    def __init__(self, T=2, derivative="exact"):
        if T != 2:
            raise ValueError(f"T must be 2 for the Hardmax channel, got {T!r}")
        if derivative not in ("exact", "released"):
            raise ValueError(f"derivative must be 'exact' or 'released', got {derivative!r}")
        self.T = 2
        self.derivative = derivative

    def _sample(self, h, rng):
        return _hardmax.sample_labels(h)

    def check_labels(self, y):
        """One-hot rows of shape (n, 2, 2)."""
        return _hardmax.check_labels(y)

    def g_out(self, y, omega, V):  # noqa: D102
        return _hardmax.g_out(y, omega, V, derivative=self.derivative)

    def fisher(self, q, V):  # noqa: D102
        return _hardmax.fisher(q, V, derivative=self.derivative)

    def __repr__(self):
        extra = "" if self.derivative == "exact" else ", derivative='released'"
        return f"Hardmax(T=2{extra})"


# ---------------------------------------------------------------------- data
def _indices(tokens, S):
    # The forward map without input checks (GAMP-RIE calls it every iteration).
    n, T, d = tokens.shape
    XS = (tokens.reshape(n * T, d) @ S).reshape(n, T, d)
    h = np.einsum("nad,nbd->nab", XS, tokens)
    h[:, np.arange(T), np.arange(T)] -= np.trace(S)
    return h / np.sqrt(d)


def attention_indices(tokens, S):
    r"""Attention indices of a matrix :math:`S`, the forward map of the AIM.

    .. math::

        h_\mu = \frac{X_\mu S X_\mu^\top - \operatorname{Tr}(S)\, I_T}{\sqrt d},

    computed as one stacked :math:`(nT\times d)(d\times d)` matmul and a
    batched product, without the :math:`n\times d\times d` design tensor.

    Parameters
    ----------
    tokens : ndarray, shape (n, T, d)
    S : ndarray, shape (d, d)

    Returns
    -------
    h : ndarray, shape (n, T, T)
        Symmetric when ``S`` is.
    """
    tokens = as_float_array(tokens, "tokens")
    if tokens.ndim != 3:
        raise ValueError(f"tokens must have shape (n, T, d), got {tokens.shape}")
    d = tokens.shape[2]
    S = as_float_array(S, "S")
    if S.shape != (d, d):
        raise ValueError(f"S must have shape ({d}, {d}) to match tokens, got {S.shape}")
    return _indices(tokens, S)


def sample(d, alpha, rho, channel, rng=None):
    r"""Draw an AIM data set.

    Parameters
    ----------
    d : int
        Token dimension.
    alpha : float
        ``n = round(alpha d^2)`` samples.
    rho : float
        Width ratio; the teacher has ``r = max(1, round(rho d))`` columns.
    channel : Linear, Softmax or Hardmax
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    tokens : ndarray, shape (n, T, d)
    y : ndarray, shape (n, T, T)
    S : ndarray, shape (d, d)
        The teacher :math:`W W^\top/\sqrt{r d}`.
    """
    d = check_positive_int(d, "d")
    alpha = float(check_nonnegative(alpha, "alpha"))
    rho = float(check_positive(rho, "rho"))
    rng = np.random.default_rng(rng)
    r = max(1, int(round(rho * d)))
    W = rng.standard_normal((d, r))
    S = W @ W.T / np.sqrt(r * d)
    tokens = rng.standard_normal((int(round(alpha * d * d)), channel.T, d))
    return tokens, channel.sample(_indices(tokens, S), rng), S


# ----------------------------------------------------------- state evolution
@dataclass(frozen=True)
class AIMStateEvolution:
    """Fixed point of the AIM state evolution; fields have alpha's shape.

    Attributes
    ----------
    alpha, q, q_hat
    mse : :math:`Q_0 - q` (1 at ``alpha = 0``, 0 at perfect recovery).
    converged, n_iter
    """

    alpha: np.ndarray
    q: np.ndarray
    q_hat: np.ndarray
    mse: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray


@lru_cache(maxsize=64)
def _mmse_interpolant(rho):
    # mmse_rho(Delta) tabulated once per rho on a log grid; log-log PCHIP keeps
    # it monotone; relative error below 1e-6 except next to the Delta where two
    # bulks of the spectrum merge (rho < 1), where the MMSE has a kink (~5e-5).
    log_delta = np.linspace(np.log(1e-9), np.log(1e9), 1201)
    mmse = rmt.wishart_denoising_mmse(np.exp(log_delta), rho)
    return PchipInterpolator(log_delta, np.log(mmse), extrapolate=True), log_delta[[0, -1]]


def _denoising_mmse(delta, rho):
    r"""Tabulated ``rmt.wishart_denoising_mmse``, with its limits outside the table.

    Below the table the error is linear, :math:`(1 - (1-\rho)_+^2)\Delta`;
    above it (:math:`\Delta > 10^9`) it is 1 to within :math:`10^{-9}`.
    """
    interp, (lo, hi) = _mmse_interpolant(float(rho))
    delta = np.asarray(delta, dtype=float)
    with np.errstate(divide="ignore"):
        log_delta = np.log(delta)
    inside = np.exp(interp(np.clip(log_delta, lo, hi)))
    small_slope = 1.0 - max(1.0 - rho, 0.0) ** 2
    out = np.where(log_delta < lo, small_slope * delta, inside)
    return np.where(np.isinf(delta), 1.0, out)


def state_evolution(alpha, rho, channel, *, damping=0.5, tol=1e-12, max_iter=5000):
    r"""Bayes-optimal state evolution of the AIM, vectorised over ``alpha``.

    .. math::

        \hat q = 2\alpha\,\mathbb{E}_{\xi, y}\big[g_{\rm out}^\top K
        g_{\rm out}\big]_{V = Q_0 - q}, \qquad
        q = Q_0 - \mathrm{mmse}_\rho(1/\hat q),

    with :math:`\mathrm{mmse}_\rho` the Wishart denoising error
    (:func:`aimnotes.rmt.wishart_denoising_mmse`). For channels with a
    counting constant :math:`c` (noiseless linear, softmax) the fixed point
    is the closed form :math:`\frac{4\pi^2}{3}\Delta^\star\!\int\mu_{\Delta^\star}^3
    = 1 - c\alpha`, :math:`\mathrm{MMSE} = c\alpha\Delta^\star` (0 for
    :math:`\alpha \ge \alpha_{PR}`); otherwise the equations are iterated
    from :math:`q = \rho` (uninformative) with damping.

    Parameters
    ----------
    alpha : float or array_like
        ``n/d^2 >= 0``.
    rho : float
        ``r/d > 0``.
    channel : Linear, Softmax or Hardmax
    damping, tol, max_iter
        Of the iteration (not used by the closed form).

    Returns
    -------
    AIMStateEvolution
    """
    alpha_arr = check_nonnegative(alpha, "alpha")
    rho = float(check_positive(rho, "rho"))
    Q0 = 1.0 + rho
    flat = alpha_arr.ravel()
    c = channel.counting_constant
    if c is not None:
        target = 1.0 - c * flat
        delta = rmt.solve_counting_equation(np.clip(target, 0.0, 1.0), rho)
        with np.errstate(invalid="ignore"):  # alpha = 0: 0 * inf, replaced below
            mse = np.where(target <= max(1.0 - rho, 0.0) ** 2, 0.0, c * flat * delta)
        mse = np.where(flat == 0, 1.0, mse)
        converged = np.ones(flat.shape, dtype=bool)
        n_iter = np.zeros(flat.shape, dtype=int)
        q = Q0 - mse
    else:
        def step(q, a):
            q_hat = 2.0 * a * channel.fisher(q, Q0 - q)
            with np.errstate(divide="ignore"):
                return Q0 - _denoising_mmse(1.0 / q_hat, rho)

        q, converged, n_iter = fixed_point(
            step, np.full(flat.shape, rho), (flat,), tol=tol, max_iter=max_iter,
            damping=damping, name="AIM state evolution")
        mse = Q0 - q
    with np.errstate(divide="ignore", invalid="ignore"):
        q_hat = np.where(mse > 0, 2.0 * flat * channel.fisher(q, np.maximum(mse, 1e-300)), np.inf)
    shape = alpha_arr.shape
    out = dict(alpha=flat, q=q, q_hat=np.where(flat == 0, 0.0, q_hat), mse=mse,
               converged=converged, n_iter=n_iter)
    return AIMStateEvolution(**{k: scalar_or_array(v, shape) for k, v in out.items()})


def perfect_recovery_threshold(rho, channel):
    r"""Sample ratio above which the MMSE vanishes, :math:`(1 - (1-\rho)_+^2)/c`.

    The counting bound: a rank-:math:`r` PSD matrix has about
    :math:`d^2(\rho - \rho^2/2)` degrees of freedom for :math:`\rho \le 1`
    (:math:`d^2/2` beyond), and each sample gives :math:`c/2` independent
    equations. NaN for channels without perfect recovery (hardmax, noisy
    linear). Vectorised over ``rho``.
    """
    rho = check_positive(rho, "rho")
    c = channel.counting_constant
    if c is None:
        return scalar_or_array(np.full(rho.shape, np.nan), rho.shape)
    return scalar_or_array((1.0 - np.maximum(1.0 - rho, 0.0) ** 2) / c, rho.shape)


def small_width_state_evolution(alpha_bar, channel, *, damping=0.5, tol=1e-12,
                                max_iter=5000):
    r"""State evolution in the small-width limit (:math:`\rho \to 0`, fixed :math:`\alpha/\rho`).

    Each eigenvalue of :math:`S` becomes a BBP spike:

    .. math::

        q = \big[(1 - t)_+\big]^2, \qquad
        t = \frac{1}{2\bar\alpha\,\mathbb{E}[g^\top K g]_{V = 1 - q}},
        \qquad \mathrm{MMSE} = 1 - q.

    Channels with a counting constant :math:`c` have the closed form
    :math:`\mathrm{MMSE} = 1` for :math:`\bar\alpha \le 1/c`,
    :math:`1 - (c\bar\alpha - 1)^2` up to :math:`2/c` and 0 beyond; the others
    (hardmax) are iterated. Returns an :class:`AIMStateEvolution`
    (``q_hat`` holds :math:`1/t`).
    """
    ab = check_nonnegative(alpha_bar, "alpha_bar")
    flat = ab.ravel()
    c = channel.counting_constant
    if c is not None:
        # Closed form: 1, then 1 - (c alpha_bar - 1)^2, then 0 beyond 2/c.
        q = np.where(c * flat <= 1.0, 0.0, np.minimum(c * flat - 1.0, 1.0) ** 2)
        converged, n_iter = np.ones(flat.shape, dtype=bool), np.zeros(flat.shape, dtype=int)
    else:
        def step(q, a):
            with np.errstate(divide="ignore"):
                t = 1.0 / (2.0 * a * channel.fisher(q, 1.0 - q))
            return np.maximum(1.0 - t, 0.0) ** 2

        # Start slightly above 0: q = 0 is a fixed point only below weak recovery.
        q, converged, n_iter = fixed_point(step, np.full(flat.shape, 1e-3), (flat,), tol=tol,
                                           max_iter=max_iter, damping=damping,
                                           name="small-width state evolution")
    with np.errstate(divide="ignore", invalid="ignore"):
        q_hat = 2.0 * flat * channel.fisher(q, 1.0 - q)
    out = dict(alpha=flat, q=q, q_hat=q_hat, mse=1.0 - q, converged=converged, n_iter=n_iter)
    return AIMStateEvolution(**{k: scalar_or_array(v, ab.shape) for k, v in out.items()})


def weak_recovery_threshold(channel):
    r"""Small-width weak-recovery threshold :math:`\bar\alpha_{WR} = 1/(2E_0)`.

    :math:`E_0 = \mathbb{E}[g^\top K g]` at :math:`q = 0`, :math:`V = 1`;
    :math:`1/c` for channels with a counting constant.
    """
    return float(1.0 / (2.0 * channel.fisher(0.0, 1.0)))


# ------------------------------------------------------------------ GAMP-RIE
@dataclass(frozen=True)
class GAMPRIEResult:
    """Outcome of :func:`gamp_rie`.

    Attributes
    ----------
    S_hat : ndarray, shape (d, d)
        Estimate of the teacher matrix.
    variance : float
        Its predicted error per ``d``, :math:`c = \\mathrm{mmse}_\\rho(1/\\hat q)`.
    q_hat : float
    n_iter : int
    converged : bool
    history : dict of ndarray
        Per iteration: ``"change"`` (:math:`\\|\\hat S^{t+1} - \\hat S^t\\|_F^2/d`),
        ``"variance"``, ``"q_hat"``, ``"q_hat_empirical"`` (:math:`2\\alpha\\,
        \\mathrm{mean}_\\mu G_\\mu^\\top K G_\\mu`, equal to ``q_hat`` up to
        finite-size fluctuations when the model is right) and, when
        ``S_true`` is given, ``"mse"``
        (:math:`\\|\\hat S - S\\|_F^2/d`).
    """

    S_hat: np.ndarray
    variance: float
    q_hat: float
    n_iter: int
    converged: bool
    history: dict = field(repr=False)


def _adjoint(tokens, G):
    r""":math:`\sum_\mu \mathcal{A}_\mu^*(G_\mu)`, one :math:`(d\times nT)(nT\times d)` matmul."""
    n, T, d = tokens.shape
    G_tilde = G * (1.0 - 0.5 * (1.0 - np.eye(T)))  # diagonal kept, off-diagonal halved
    GX = np.einsum("nab,nbd->nad", G_tilde, tokens).reshape(n * T, d)
    out = tokens.reshape(n * T, d).T @ GX
    out -= np.einsum("naa->", G) * np.eye(d)
    return out / np.sqrt(d)


def _rie_clamped(R, delta, rho):
    r"""RIE of ``R`` with its eigenvalues first clipped to the asymptotic support.

    :math:`\xi(\lambda) = \lambda - 2\Delta\,\mathrm{h}_\Delta(\lambda)` has an
    infinite slope just outside the edges of :math:`\mu_\Delta` and tends to
    :math:`\lambda` far away, so finite-size outliers of ``R`` would pass
    almost unshrunk (at :math:`\alpha d \sim 2`-:math:`5` the noise of ``R`` is
    visibly non-semicircular) and their jumps across the edges would make
    the iteration diverge. The prior has no outliers; clipping makes
    :math:`\xi` constant outside :math:`[\min\operatorname{supp}, \max\operatorname{supp}]`
    and changes nothing as :math:`d \to \infty`.
    """
    lam, U = np.linalg.eigh(0.5 * (R + R.T))
    support = rmt.spectral_support(delta, rho)
    x = np.clip(lam, support[0][0], support[-1][1])
    xi = x - 2.0 * delta * rmt.hilbert_transform(x, delta, rho)
    return (U * xi) @ U.T


# Absolute floor of the convergence test: above alpha_PR the predicted error c
# goes to 0 geometrically with the iterate, so a purely relative test is never met.
_GAMP_ABS_TOL = 1e-12


def gamp_rie(tokens, y, rho, channel, *, max_iter=300, tol=1e-5, damping=0.5, S_true=None):
    r"""GAMP with a rotation-invariant denoiser (GAMP-RIE) for the AIM.

    Scalar-variance iteration in the Nishimori form, never forming the
    :math:`n\times d\times d` design tensor. Start: :math:`\hat S = \sqrt\rho\,I`,
    :math:`c = Q_0 - \rho = 1`, :math:`G = 0`. At each step, with
    :math:`\theta =` ``damping``:

    1. :math:`\Omega_\mu \leftarrow \theta\,\Omega_\mu + (1 - \theta)
       \big[\mathcal{A}_\mu(\hat S) - c\,(K \odot G_\mu)\big]` and
       :math:`V \leftarrow \theta V + (1 - \theta) c` (no damping at the first
       step). The Onsager term uses the *undamped* :math:`c`, the variance of
       the estimate :math:`\hat S` that enters :math:`\mathcal{A}(\hat S)`, and
       the previous :math:`G`, which was computed at the previous (damped)
       :math:`\Omega, V`;
    2. :math:`G_\mu = g_{\rm out}(y_\mu; \Omega_\mu, V)` and
       :math:`\hat q = 2\alpha\,\mathbb{E}[g^\top K g]_{q = Q_0 - V,\, V}`
       (the channel's ``fisher``; for the linear and softmax channels this
       is :math:`-2\alpha\sum_{a\le b}K_{ab}\,\partial g_{ab}/\partial\omega_{ab}`
       exactly, the coefficient that makes :math:`\hat S` cancel in the
       next line);
    3. :math:`R = \hat S + \frac{2}{\hat q d}\sum_\mu \mathcal{A}_\mu^*(G_\mu)`,
       approximately :math:`S` plus GOE noise of variance :math:`\Delta = 1/\hat q`;
    4. :math:`\hat S \leftarrow \mathrm{RIE}(R; \Delta, \rho)` (undamped) with the
       eigenvalues of :math:`R` clipped to the support of :math:`\mu_\Delta`
       first (``_rie_clamped``), and :math:`c = \mathrm{mmse}_\rho(\Delta)`.

    Damping acts on :math:`(\Omega, V)` only: damping :math:`\hat S` instead
    breaks the Onsager cancellation (the damped estimate's response to
    :math:`G` is no longer :math:`c\,K G`) and the iteration diverges. The
    recursion of :math:`c` is the state evolution itself. Costs two batched
    matmuls (:math:`O(nTd^2)`) and one symmetric eigendecomposition per
    iteration; memory :math:`O(nTd + d^2)`.

    Parameters
    ----------
    tokens : ndarray, shape (n, T, d)
    y : ndarray, shape (n, T, T)
    rho : float
        Width ratio of the prior.
    channel : Linear, Softmax or Hardmax
    max_iter : int
    tol : float
        Converged when :math:`\|\hat S^{t+1} - \hat S^t\|_F^2/d <` ``tol``
        :math:`\times\, c^{t+1} + 10^{-12}` (step relative to the predicted
        error; the absolute floor only matters beyond :math:`\alpha_{PR}`,
        where :math:`c \to 0`). The step
        decays geometrically; at ``tol = 1e-5`` and :math:`d = 80` this takes
        about 10-25 iterations away from perfect recovery and about 70 just
        below :math:`\alpha_{PR}`, where the state evolution itself is slow.
    damping : float in [0, 1)
        :math:`\theta` above. Without damping the noiseless channels
        (linear, softmax), whose Onsager term integrates the residual,
        oscillate at finite :math:`d`.
    S_true : ndarray, shape (d, d), optional
        Only used to record the error per iteration.

    Returns
    -------
    GAMPRIEResult
    """
    tokens = as_float_array(tokens, "tokens")
    if tokens.ndim != 3 or tokens.shape[1] != channel.T:
        raise ValueError(f"tokens must have shape (n, {channel.T}, d), got {tokens.shape}")
    n, T, d = tokens.shape
    y = channel.check_labels(y)
    if y.shape[0] != n:
        raise ValueError(f"y must have {n} samples to match tokens, got {y.shape[0]}")
    rho = float(check_positive(rho, "rho"))
    if not 0.0 <= damping < 1.0:
        raise ValueError(f"damping must lie in [0, 1), got {damping!r}")
    alpha = n / d**2
    Q0 = 1.0 + rho
    K = _K(T)
    S_hat = np.sqrt(rho) * np.eye(d)
    c = Q0 - rho
    G = np.zeros((n, T, T))
    omega, V = None, c
    history = {key: [] for key in ("change", "variance", "q_hat", "q_hat_empirical")}
    if S_true is not None:
        history["mse"] = []
    converged = False
    change = np.inf
    it = 0
    for it in range(1, max_iter + 1):
        omega_new = _indices(tokens, S_hat) - c * K * G
        if omega is None:
            omega, V = omega_new, c
        else:
            omega = damping * omega + (1.0 - damping) * omega_new
            V = damping * V + (1.0 - damping) * c
        G = channel.g_out(y, omega, V)
        q_hat = 2.0 * alpha * float(channel.fisher(Q0 - V, V))
        R = S_hat + 2.0 / (q_hat * d) * _adjoint(tokens, G)
        S_new = _rie_clamped(R, 1.0 / q_hat, rho)
        c = float(_denoising_mmse(1.0 / q_hat, rho))
        change = np.sum((S_new - S_hat) ** 2) / d
        S_hat = S_new
        history["change"].append(change)
        history["variance"].append(c)
        history["q_hat"].append(q_hat)
        history["q_hat_empirical"].append(2.0 * alpha * np.mean(_quadratic_form(G)))
        if S_true is not None:
            history["mse"].append(np.sum((S_hat - S_true) ** 2) / d)
        if change < tol * c + _GAMP_ABS_TOL:
            converged = True
            break
    if not converged:
        warnings.warn(f"GAMP-RIE did not converge in {max_iter} iterations "
                      f"(last relative change {change / c:.2e} > tol={tol:g})",
                      ConvergenceWarning, stacklevel=2)
    return GAMPRIEResult(S_hat=S_hat, variance=c, q_hat=float(q_hat), n_iter=it,
                         converged=converged,
                         history={k: np.asarray(v) for k, v in history.items()})
