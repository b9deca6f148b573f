r"""Bilinear sequence regression (BSR): learning a rank-:math:`r` map from sequences of tokens.

A sample is a sequence of :math:`L` tokens in :math:`\mathbb{R}^d`, stored as
:math:`X_\mu \in \mathbb{R}^{d\times L}` with i.i.d. :math:`\mathcal{N}(0, 1)`
entries, and the teacher is

.. math::

    S^\star = \frac{U V^\top}{\sqrt r}, \quad U \in \mathbb{R}^{d\times r},\;
    V \in \mathbb{R}^{L\times r} \text{ i.i.d. } \mathcal{N}(0, 1), \qquad
    y_\mu = \frac{\operatorname{Tr}(X_\mu^\top S^\star)}{\sqrt{dL}} + \sqrt\Delta\,\xi_\mu
    = \frac{1}{\sqrt{r d L}}\sum_{k=1}^r \sum_{a=1}^L V_{ak}\,(u_k\cdot x_{\mu a})
    + \sqrt\Delta\,\xi_\mu,

a width-:math:`r` network that applies each token map :math:`u_k` to every
token and mixes the positions with :math:`v_k` [1]_. High-dimensional limit:
:math:`\beta = L/d`, :math:`\rho = r/\min(d, L)`, :math:`\alpha = n/(dL)`
(samples per entry of :math:`S`). The model is symmetric under
:math:`d \leftrightarrow L`; the theory takes :math:`\beta \ge 1` and every
function here maps :math:`\beta < 1` to :math:`1/\beta`.

Bayes-optimal theory [1]_ (proved in [2]_): BSR is a GLM on
:math:`\operatorname{vec}(S)` with the linear channel and a rotationally
invariant matrix prior, whose prior-side scalar problem is rectangular
matrix denoising (:func:`aimnotes.rmt.rectangular_denoising_mmse`). The
state evolution reads

.. math::

    \hat q = \frac{\alpha}{\Delta + 1 - q}, \qquad
    q = 1 - \mathrm{mmse}_{\rm RIE}\big(\beta, \rho; 1/\hat q\big), \qquad
    \mathrm{MMSE} = 1 - q, \qquad
    \text{test error} = \Delta + \mathrm{MMSE}.

Without noise the MMSE vanishes above the counting bound
:math:`\alpha_s = \rho(1 + \beta - \rho)/\beta` (:math:`\rho \le 1`; 1 beyond),
the dimension of the manifold of rank-:math:`r` matrices per entry
(:func:`exact_recovery_threshold`).

References
----------
.. [1] V. Erba, E. Troiani, L. Biggio, A. Maillard, L. Zdeborová, "Bilinear
   sequence regression: a model for learning from long sequences of
   high-dimensional tokens", arXiv:2410.18858, Phys. Rev. X (2025); code
   ``SPOC-group/bilinear-sequence-regression``.
.. [2] Y. Xu, A. Maillard, L. Zdeborová, F. Krzakala, "Fundamental limits of
   matrix sensing: exact asymptotics, universality, and applications",
   COLT 2025, arXiv:2503.14121.
.. [3] E. Troiani, V. Erba, F. Krzakala, A. Maillard, L. Zdeborová, "Optimal
   denoising of rotationally invariant rectangular matrices", MSML 2022,
   arXiv:2203.07752.
"""

import warnings
from dataclasses import dataclass, field

import numpy as np

from . import glm
from ._rmt_rectangular import (
    _counting_threshold,
    rectangular_mmse_table,
    rectangular_rie,
)
from ._validation import (
    as_float_array,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_positive_scalar,
    scalar_or_array,
)
from .solvers import ConvergenceWarning

__all__ = [
    "sample",
    "exact_recovery_threshold",
    "BSRStateEvolution",
    "state_evolution",
    "low_rank_state_evolution",
    "low_rank_weak_recovery_threshold",
    "low_rank_alpha",
    "long_sequence_denoising_mmse",
    "long_sequence_state_evolution",
    "ridge_mse",
    "ridge",
    "GAMPRIEResult",
    "gamp_rie",
    "GDResult",
    "gradient_descent",
    "mse",
]


# ------------------------------------------------------------------ checks
def _canonical_beta(beta):
    beta = check_positive(beta, "beta")
    return np.maximum(beta, 1.0 / beta)


def _check_design(X, y):
    X = as_float_array(X, "X")
    if X.ndim != 3 or min(X.shape) < 1:
        raise ValueError(f"X must be a non-empty 3-d array of shape (n, d, L), got {X.shape}")
    y = as_float_array(y, "y")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape (n,) = ({X.shape[0]},) to match X, got {y.shape}")
    return X, y


# ------------------------------------------------------------------ data
def sample(d, L, r, alpha, noise=0.0, rng=None):
    r"""Draw a BSR data set: ``n = round(alpha d L)`` sequences, labels and teacher.

    Parameters
    ----------
    d, L : int
        Token dimension and sequence length.
    r : int
        Rank (width) of the teacher.
    alpha : float
        Samples per entry of :math:`S`, ``n / (d L) >= 0``.
    noise : float
        Label-noise variance :math:`\Delta \ge 0`.
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    X : ndarray, shape (n, d, L)
        Sequences with i.i.d. :math:`\mathcal{N}(0, 1)` entries.
    y : ndarray, shape (n,)
        :math:`\operatorname{Tr}(X_\mu^\top S^\star)/\sqrt{dL} + \sqrt\Delta\,\xi_\mu`.
    S : ndarray, shape (d, L)
        The teacher :math:`UV^\top/\sqrt r`, entries of unit variance.
    """
    d = check_positive_int(d, "d")
    L = check_positive_int(L, "L")
    r = check_positive_int(r, "r")
    alpha = float(check_nonnegative(alpha, "alpha"))
    noise = float(check_nonnegative(noise, "noise"))
    rng = np.random.default_rng(rng)
    U = rng.standard_normal((d, r))
    V = rng.standard_normal((L, r))
    S = U @ V.T / np.sqrt(r)
    n = int(round(alpha * d * L))
    X = rng.standard_normal((n, d, L))
    y = X.reshape(n, d * L) @ S.ravel() / np.sqrt(d * L)
    if noise > 0:
        y = y + np.sqrt(noise) * rng.standard_normal(n)
    return X, y, S


def mse(S_hat, S_true):
    r"""Error per entry :math:`\|\hat S - S^\star\|_F^2/(dL)` (last two axes; leading axes kept)."""
    S_hat, S_true = np.asarray(S_hat, dtype=float), np.asarray(S_true, dtype=float)
    if S_hat.shape[-2:] != S_true.shape[-2:]:
        raise ValueError(f"S_hat and S_true shapes differ: {S_hat.shape} vs {S_true.shape}")
    return scalar_or_array(np.mean((S_hat - S_true) ** 2, axis=(-2, -1)))


# ------------------------------------------------------------------ thresholds
def exact_recovery_threshold(beta, rho):
    r"""Noiseless exact-recovery threshold :math:`\alpha_s`, by counting parameters.

    .. math::

        \alpha_s = \frac{r(d + L - r)}{dL} = \frac{\rho(1 + \beta - \rho)}{\beta}
        \quad (\rho \le 1), \qquad \alpha_s = 1 \quad (\rho \ge 1),

    with canonical :math:`\beta \ge 1`. It is also the small-noise slope of
    the denoising error, :math:`\mathrm{mmse}_{\rm RIE}(D)/D \to \alpha_s`, which
    is why the noiseless MMSE vanishes exactly there [1]_. Vectorised (``beta``
    and ``rho`` broadcast).
    """
    beta = _canonical_beta(beta)
    rho = check_positive(rho, "rho")
    return scalar_or_array(_counting_threshold(beta, rho))


def low_rank_alpha(alpha, beta, rho):
    r"""Samples per parameter of the factors, :math:`\alpha_{\rm LR} = n/(r(d+L)) = \alpha\beta/(\rho(1+\beta))`."""
    alpha = check_nonnegative(alpha, "alpha")
    beta = _canonical_beta(beta)
    rho = check_positive(rho, "rho")
    return scalar_or_array(alpha * beta / (rho * (1.0 + beta)))


def low_rank_weak_recovery_threshold(beta, noise=0.0):
    r"""Weak-recovery threshold of the low-rank limit, :math:`\alpha_{\rm LR} = (1+\Delta)\sqrt\beta/(1+\beta)`.

    Below it :func:`low_rank_state_evolution` gives :math:`q = 0`. At finite
    :math:`\rho` there is no such threshold: the MMSE is below 1 for every
    :math:`\alpha > 0`.
    """
    beta = _canonical_beta(beta)
    noise = check_nonnegative(noise, "noise")
    return scalar_or_array((1.0 + noise) * np.sqrt(beta) / (1.0 + beta))


# ------------------------------------------------------------------ state evolution
@dataclass(frozen=True)
class BSRStateEvolution:
    r"""Fixed point of the BSR state evolution; array fields have ``alpha``'s shape.

    Attributes
    ----------
    alpha : ndarray
        Samples per entry (per parameter for :func:`low_rank_state_evolution`).
    beta, rho : float
        Canonical aspect ratio (:math:`\ge 1`; ``inf`` in the long-sequence
        limit) and rank ratio (0 in the low-rank limit).
    noise : ndarray
    q, q_hat : ndarray
        Overlap and its conjugate :math:`\alpha/(\Delta + 1 - q)`.
    mse : ndarray
        :math:`1 - q = \mathbb{E}\|\hat S - S^\star\|_F^2/(dL)`.
    test_error : ndarray
        :math:`\Delta + \mathrm{mse}`, the error on a fresh label.
    converged : ndarray of bool
    n_iter : ndarray of int
        Bisection steps of the root solve.
    """

    alpha: np.ndarray
    beta: float
    rho: float
    noise: np.ndarray
    q: np.ndarray
    q_hat: np.ndarray
    mse: np.ndarray
    test_error: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray


#: Grid on which the root of the fixed-point equation is first bracketed:
#: geometric near 0 (the noiseless MMSE vanishes linearly at alpha_s) and
#: near 1, uniform in between.
_M_GRID = np.unique(np.concatenate([
    np.geomspace(1e-15, 1e-2, 60), np.linspace(1e-2, 0.99, 100), 1.0 - np.geomspace(1e-2, 1e-15, 60),
]))
_BISECT_MAX = 200


def _bracket_bisect(F, lo, hi, tol, name, skip):
    """Vectorised bisection of ``F(x) = 0`` on brackets ``F(lo) > 0 > F(hi)`` (1-d arrays).

    Entries where ``skip`` is true are left alone (reported converged).
    """
    n_iter = np.zeros(lo.shape, dtype=int)
    active = ~skip & (hi - lo > tol * np.maximum(hi, 1e-300))
    for it in range(1, _BISECT_MAX + 1):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        mid = 0.5 * (lo[idx] + hi[idx])
        pos = F(mid, idx) > 0
        lo[idx] = np.where(pos, mid, lo[idx])
        hi[idx] = np.where(pos, hi[idx], mid)
        n_iter[idx] = it
        active[idx] = hi[idx] - lo[idx] > tol * np.maximum(hi[idx], 1e-300)
    converged = ~active
    if not np.all(converged):
        warnings.warn(f"{name}: bisection did not reach tol={tol:g} for "
                      f"{np.sum(~converged)} parameter values", ConvergenceWarning, stacklevel=3)
    return 0.5 * (lo + hi), converged, n_iter


def _uninformed_fixed_point(mmse, alpha, noise, tol, name):
    r"""MSE fixed point reached from the uninformed start :math:`m = 1`.

    Iterating :math:`m \leftarrow \mathrm{mmse}((\Delta + m)/\alpha)` from
    :math:`m = 1` decreases monotonically to the *largest* root of
    :math:`F(m) = \mathrm{mmse}((\Delta + m)/\alpha) - m` (:math:`F(1) < 0`).
    That root is bracketed on :data:`_M_GRID` for every ``alpha`` at once and
    refined by bisection; near :math:`\alpha_s` the iteration itself would
    need thousands of steps (critical slowing down). With :math:`\Delta = 0`
    and no positive root the fixed point is :math:`m = 0` (exact recovery).
    """
    m = np.ones(alpha.shape)
    converged = np.ones(alpha.shape, dtype=bool)
    n_iter = np.zeros(alpha.shape, dtype=int)
    live = alpha > 0
    if not np.any(live):
        return m, converged, n_iter
    a, dl = alpha[live], noise[live]
    with np.errstate(divide="ignore", invalid="ignore"):
        F_grid = mmse((dl[:, None] + _M_GRID) / a[:, None]) - _M_GRID
    positive = F_grid > 0
    k = _M_GRID.size - 1 - np.argmax(positive[:, ::-1], axis=1)  # last positive grid point
    has = positive.any(axis=1)
    lo = np.where(has, _M_GRID[k], 0.0)
    hi = np.where(has, _M_GRID[np.minimum(k + 1, _M_GRID.size - 1)], _M_GRID[0])
    exact = ~has & (dl == 0)

    def F(x, idx):
        return mmse((dl[idx] + x) / a[idx]) - x

    root, conv, it = _bracket_bisect(F, lo, hi, tol, name, exact)
    m[live] = np.where(exact, 0.0, root)
    converged[live] = conv | exact
    n_iter[live] = np.where(exact, 0, it)
    return m, converged, n_iter


def _result(alpha, beta, rho, noise, m, converged, n_iter, shape):
    with np.errstate(divide="ignore"):
        q_hat = np.where(alpha == 0, 0.0, alpha / (noise + m))
    fields = dict(alpha=alpha, noise=noise, q=1.0 - m, q_hat=q_hat, mse=m,
                  test_error=noise + m, converged=converged, n_iter=n_iter)
    return BSRStateEvolution(beta=beta, rho=rho,
                             **{k: scalar_or_array(v, shape) for k, v in fields.items()})


def _se_inputs(alpha, noise):
    alpha = check_nonnegative(alpha, "alpha")
    noise = check_nonnegative(noise, "noise")
    alpha, noise = np.broadcast_arrays(alpha, noise)
    return alpha.shape, alpha.ravel().astype(float), noise.ravel().astype(float)


def state_evolution(alpha, beta, rho, noise=0.0, *, tol=1e-12):
    r"""Bayes-optimal state evolution of bilinear sequence regression [1]_.

    .. math::

        \hat q = \frac{\alpha}{\Delta + 1 - q}, \qquad
        q = 1 - \mathrm{mmse}_{\rm RIE}(\beta, \rho; 1/\hat q),

    i.e. the MSE :math:`m = 1 - q` solves :math:`m = \mathrm{mmse}_{\rm RIE}
    ((\Delta + m)/\alpha)`; the fixed point returned is the one the iteration
    reaches from the uninformed start :math:`q = 0` (the largest root; the
    free-entropy landscape has a single maximum, so it is also the
    Bayes-optimal one). :math:`\mathrm{mmse}_{\rm RIE}` comes from a table
    built once per :math:`(\beta, \rho)` (:func:`aimnotes.rmt.rectangular_mmse_table`,
    accurate to about :math:`10^{-6}`).

    Parameters
    ----------
    alpha : float or array_like
        Samples per entry :math:`n/(dL) \ge 0`.
    beta : float
        Aspect ratio :math:`L/d > 0` (mapped to :math:`\max(\beta, 1/\beta)`).
    rho : float
        Rank ratio :math:`r/\min(d, L) > 0`.
    noise : float or array_like
        Label-noise variance :math:`\Delta \ge 0` (broadcast with ``alpha``).
    tol : float
        Relative accuracy of the MSE.

    Returns
    -------
    BSRStateEvolution
    """
    shape, alpha, noise = _se_inputs(alpha, noise)
    beta = float(_canonical_beta(beta))
    rho = check_positive_scalar(rho, "rho")
    table = rectangular_mmse_table(beta, rho)
    m, converged, n_iter = _uninformed_fixed_point(table, alpha, noise, tol,
                                                   "BSR state evolution")
    return _result(alpha, beta, rho, noise, m, converged, n_iter, shape)


def long_sequence_denoising_mmse(delta, rho):
    r"""Rectangular denoising MMSE in the long-sequence limit :math:`\beta \to \infty` [1]_.

    .. math::

        \mathrm{mmse}_\infty(D) = D - \frac{D}{2}\Big[\sqrt{1 + \rho\big((D+2)\rho D
        + 2D + \rho - 2\big)} - (\rho - 1) - D\rho\Big],

    vectorised over ``delta``. It tends to :math:`D/(1+D)` as
    :math:`\rho\to\infty` and to :math:`\min(\rho, 1)\,D` as :math:`D \to 0`.
    """
    delta = check_nonnegative(delta, "delta")
    rho = check_positive_scalar(rho, "rho")
    D = delta
    root = np.sqrt(1.0 + rho * ((D + 2.0) * rho * D + 2.0 * D + rho - 2.0))
    return scalar_or_array(D - 0.5 * D * (root - (rho - 1.0) - D * rho))


def long_sequence_state_evolution(alpha, rho, noise=0.0, *, tol=1e-12):
    r"""State evolution in the long-sequence limit :math:`\beta \to \infty` [1]_.

    :func:`state_evolution` with :func:`long_sequence_denoising_mmse` in place
    of the tabulated denoising error. Without noise the MMSE is the closed
    form :math:`(1 - \alpha)(1 - \alpha/\rho)` for :math:`\alpha < \min(1, \rho)`
    and 0 beyond. Returns a :class:`BSRStateEvolution` with ``beta = inf``.
    """
    shape, alpha, noise = _se_inputs(alpha, noise)
    rho = check_positive_scalar(rho, "rho")

    def mmse(D):
        return long_sequence_denoising_mmse(D, rho)

    m, converged, n_iter = _uninformed_fixed_point(mmse, alpha, noise, tol,
                                                   "long-sequence state evolution")
    return _result(alpha, np.inf, rho, noise, m, converged, n_iter, shape)


def low_rank_state_evolution(alpha_lr, beta, noise=0.0, *, tol=1e-12):
    r"""State evolution in the low-rank limit :math:`\rho \to 0` at fixed :math:`\alpha_{\rm LR}` [1]_.

    With :math:`\alpha_{\rm LR} = n/(r(d + L))` (:func:`low_rank_alpha`),
    :math:`\hat q = \alpha_{\rm LR}/(\Delta + 1 - q)` and

    .. math::

        g_a = \frac{(\beta+1)^2\hat q^2 - \beta}{(\beta+1)\hat q\,(\beta\hat q + \hat q + 1)},
        \quad
        g_b = \frac{(\beta+1)^2\hat q^2 - \beta}{(\beta+1)\hat q\,(\beta\hat q + \hat q + \beta)},
        \qquad q = g_a g_b

    when :math:`(\beta+1)^2\hat q^2 > \beta` and :math:`q = 0` otherwise: each
    singular value of :math:`S` is a spike of a rectangular spiked model
    (BBP transition). The fixed point returned is the smallest root
    :math:`q \ge 0` (reached from :math:`q = 0`); weak recovery starts at
    :func:`low_rank_weak_recovery_threshold`. Returns a
    :class:`BSRStateEvolution` with ``alpha`` holding :math:`\alpha_{\rm LR}`
    and ``rho = 0``.
    """
    shape, alpha, noise = _se_inputs(alpha_lr, noise)
    beta = float(_canonical_beta(beta))

    # In terms of m = 1 - q the map is m <- 1 - q(q_hat = alpha_LR/(noise + m)), monotone
    # like the full SE, so the fixed point from q = 0 is its largest root in m.
    def mmse_like(D):  # D = (noise + m)/alpha_LR = 1/q_hat
        return 1.0 - overlap_from_qhat(1.0 / D)

    def overlap_from_qhat(qh):
        num = (beta + 1.0) ** 2 * qh**2 - beta
        with np.errstate(divide="ignore", invalid="ignore"):
            val = num**2 / ((beta + 1.0) ** 2 * qh**2 * (beta * qh + qh + 1.0)
                            * (beta * qh + qh + beta))
        return np.where(num > 0, np.nan_to_num(val, nan=1.0), 0.0)

    m, converged, n_iter = _uninformed_fixed_point(mmse_like, alpha, noise, tol,
                                                   "low-rank state evolution")
    return _result(alpha, beta, 0.0, noise, m, converged, n_iter, shape)


# ------------------------------------------------------------------ ridge
def ridge_mse(alpha, noise=0.0):
    r"""Error per entry of the optimal ridge estimator of :math:`\operatorname{vec}(S)`.

    The Gaussian-prior posterior mean, i.e. ridge with penalty
    :math:`\lambda = \Delta` on :math:`\frac12\sum_\mu(y_\mu - \hat y_\mu)^2`;
    its error is the linear-channel MMSE (:func:`aimnotes.glm.linear_mmse`),
    the positive root of :math:`m^2 + (\Delta + \alpha - 1)m - \Delta = 0`.
    It ignores the rank; it is also the :math:`\rho\to\infty` limit of the
    Bayes-optimal error, where :math:`S^\star` becomes Gaussian.
    """
    return glm.linear_mmse(alpha, noise)


def ridge(X, y, noise=0.0):
    r"""Ridge estimate of :math:`S` on :math:`\operatorname{vec}(S)` with :math:`\lambda = \Delta`.

    :math:`\hat s = (\Phi^\top\Phi + \Delta I)^{-1}\Phi^\top y` with
    :math:`\Phi_\mu = \operatorname{vec}(X_\mu)/\sqrt{dL}`; at
    :math:`\Delta = 0` the minimum-norm interpolator. Returns a ``(d, L)``
    matrix whose error concentrates on :func:`ridge_mse`.
    """
    X, y = _check_design(X, y)
    noise = float(check_nonnegative(noise, "noise"))
    n, d, L = X.shape
    s = glm.ridge(X.reshape(n, d * L) / np.sqrt(d * L), y, noise)
    return s.reshape(d, L)


# ------------------------------------------------------------------ GAMP-RIE
@dataclass(frozen=True)
class GAMPRIEResult:
    r"""Outcome of :func:`gamp_rie`.

    Attributes
    ----------
    S_hat : ndarray, shape (d, L)
        Estimate of the teacher.
    variance : float
        Predicted error per entry, :math:`\mathrm{mmse}_{\rm RIE}(1/\hat q)`.
    q_hat : float
    n_iter : int
    converged : bool
    history : dict of ndarray
        Per iteration: ``"change"`` (:math:`\|\hat S^{t+1} - \hat S^t\|_F^2/(dL)`),
        ``"variance"``, ``"q_hat"`` and, when ``S_true`` is given, ``"mse"``.
    """

    S_hat: np.ndarray
    variance: float
    q_hat: float
    n_iter: int
    converged: bool
    history: dict = field(repr=False)


#: Bounds of the predicted variance: above 0 so that 1/q_hat stays finite at
#: exact recovery, at most the prior variance.
_V_MIN = 1e-12
_GAMP_ABS_TOL = 1e-10


def gamp_rie(X, y, rho, noise, *, max_iter=200, tol=1e-6, damping=0.3, S_true=None):
    r"""GAMP with the rectangular RIE as denoiser (GAMP-RIE) for BSR [1]_.

    Scalar-variance GAMP on :math:`s = \operatorname{vec}(S)` with the design
    :math:`\Phi_\mu = \operatorname{vec}(X_\mu)/\sqrt{dL}` (rows of unit norm,
    :math:`\alpha = n/(dL)`), in :math:`S` units. Start :math:`\hat S = 0`,
    :math:`c = 1`, :math:`g = 0`; each iteration, with :math:`\theta` = ``damping``:

    1. :math:`\omega \leftarrow \theta\omega + (1-\theta)(\Phi\hat s - c\,g)` and
       :math:`V \leftarrow \theta V + (1-\theta)c` (Onsager term with the
       variance :math:`c` of the current estimate and the previous :math:`g`);
    2. :math:`g = (y - \omega)/(\Delta + V)`, :math:`\hat q = \alpha/(\Delta + V)`;
    3. :math:`R = \hat S + \operatorname{mat}(\Phi^\top g)/\hat q`, which is
       :math:`S^\star` plus Gaussian noise of variance :math:`1/\hat q` per entry;
    4. :math:`\hat S \leftarrow \mathrm{RIE}(R; 1/\hat q, \rho)`
       (:func:`aimnotes.rmt.rectangular_rie`: one SVD), whose correction is
       frozen at its value on the outer edges of the asymptotic support for
       singular values beyond them (``clip=True``; without it, finite-size
       outliers make the iteration oscillate at small :math:`\alpha`), and
       :math:`c = \mathrm{mmse}_{\rm RIE}(1/\hat q)` from the table, clipped to
       :math:`[10^{-12}, 1]`.

    As for the AIM (:func:`aimnotes.aim.gamp_rie`), damping acts on
    :math:`(\omega, V)` and not on :math:`\hat S`, which would break the
    Onsager cancellation. The recursion of :math:`c` is the state evolution.
    Per iteration: two matrix-vector products with the :math:`n\times dL`
    design (as matmuls on ``X`` viewed as ``(n, dL)``, no copy) and one SVD of
    a :math:`d\times L` matrix.

    Parameters
    ----------
    X : ndarray, shape (n, d, L)
    y : ndarray, shape (n,)
    rho : float
        Rank ratio :math:`r/\min(d, L)` of the prior.
    noise : float
        Label-noise variance :math:`\Delta \ge 0`.
    max_iter : int
    tol : float
        Converged when :math:`\|\hat S^{t+1} - \hat S^t\|_F^2/(dL) <` ``tol``
        :math:`\times\,c + 10^{-10}`.
    damping : float in [0, 1)
    S_true : ndarray, shape (d, L), optional
        Only used to record the error per iteration.

    Returns
    -------
    GAMPRIEResult
    """
    X, y = _check_design(X, y)
    n, d, L = X.shape
    rho = check_positive_scalar(rho, "rho")
    noise = float(check_nonnegative(noise, "noise"))
    max_iter = check_positive_int(max_iter, "max_iter")
    if not 0.0 <= damping < 1.0:
        raise ValueError(f"damping must lie in [0, 1), got {damping!r}")
    if S_true is not None:
        S_true = as_float_array(S_true, "S_true")
        if S_true.shape != (d, L):
            raise ValueError(f"S_true must have shape ({d}, {L}), got {S_true.shape}")
    N = d * L
    Phi = X.reshape(n, N)
    scale = 1.0 / np.sqrt(N)
    alpha = n / N
    table = rectangular_mmse_table(L / d, rho)
    S_hat = np.zeros((d, L))
    c = 1.0
    g = np.zeros(n)
    omega, V = None, c
    history = {key: [] for key in ("change", "variance", "q_hat")}
    if S_true is not None:
        history["mse"] = []
    converged = False
    change = np.inf
    it = 0
    for it in range(1, max_iter + 1):
        omega_new = scale * (Phi @ S_hat.ravel()) - c * g
        if omega is None:
            omega, V = omega_new, c
        else:
            omega = damping * omega + (1.0 - damping) * omega_new
            V = damping * V + (1.0 - damping) * c
        g = (y - omega) / (noise + V)
        q_hat = alpha / (noise + V)
        R = S_hat + (scale / q_hat) * (g @ Phi).reshape(d, L)
        S_new = rectangular_rie(R, 1.0 / q_hat, rho, clip=True)
        c = float(np.clip(table(1.0 / q_hat), _V_MIN, 1.0))
        change = float(np.mean((S_new - S_hat) ** 2))
        S_hat = S_new
        history["change"].append(change)
        history["variance"].append(c)
        history["q_hat"].append(q_hat)
        if S_true is not None:
            history["mse"].append(float(np.mean((S_hat - S_true) ** 2)))
        if not np.isfinite(change):
            break
        if change < tol * c + _GAMP_ABS_TOL:
            converged = True
            break
    if not converged:
        warnings.warn(f"BSR GAMP-RIE did not converge in {it} iterations "
                      f"(last change {change:.2e}, tol={tol:g})", ConvergenceWarning, stacklevel=2)
    return GAMPRIEResult(S_hat=S_hat, variance=c, q_hat=float(q_hat), n_iter=it,
                         converged=converged,
                         history={k: np.asarray(v) for k, v in history.items()})


# ------------------------------------------------------------------ gradient descent
@dataclass(frozen=True)
class GDResult:
    r"""Outcome of :func:`gradient_descent`.

    Attributes
    ----------
    S_hat : ndarray, shape (d, L)
        Average of the final students over the initialisations ("averaged GD";
        the single run when ``n_init = 1``).
    S_runs : ndarray, shape (n_init, d, L)
        Final student :math:`U V^\top/\sqrt r` of each initialisation.
    train_loss : ndarray, shape (n_init,)
        Final :math:`\frac{1}{n}\sum_\mu (y_\mu - \hat y_\mu)^2` of each run.
    loss_history : ndarray, shape (n_steps_done, n_init)
    converged : bool
        Every run reached ``tol`` (relative training loss) before ``n_steps``.
    n_iter : int
    """

    S_hat: np.ndarray
    S_runs: np.ndarray = field(repr=False)
    train_loss: np.ndarray
    loss_history: np.ndarray = field(repr=False)
    converged: bool
    n_iter: int


def gradient_descent(X, y, rank, *, n_init=1, lr=0.1, n_steps=2000, init_scale=1.0, tol=1e-8,
                     rng=None):
    r"""Full-batch gradient descent on the factorised student :math:`\hat S = UV^\top/\sqrt r`.

    Minimises :math:`\frac14\sum_\mu (y_\mu - \operatorname{Tr}(X_\mu^\top\hat S)/\sqrt{dL})^2`
    over :math:`U \in \mathbb{R}^{d\times r}`, :math:`V \in \mathbb{R}^{L\times r}`
    with the teacher's shape, from :math:`U, V` i.i.d.
    :math:`\mathcal{N}(0, \text{init\_scale}^2)` (the prior at 1, a
    small-norm start below), as in the baseline of [1]_. ``n_init``
    independent initialisations run together (two matmuls with the
    :math:`n\times dL` design per step for all of them); their average is
    the "averaged GD" estimator, a proxy of the posterior mean, while a single
    run behaves like a posterior sample (error :math:`2\times` MMSE if GD
    samples the posterior).

    Parameters
    ----------
    X : ndarray, shape (n, d, L)
    y : ndarray, shape (n,)
    rank : int
        Width :math:`r` of the student.
    n_init : int
        Independent initialisations.
    lr : float
        Learning rate (the loss is a sum over samples, as in [1]_).
    n_steps : int
        Maximum number of steps.
    init_scale : float
        Standard deviation of the initial factors.
    tol : float
        Stop when the mean-square training error of every run is below
        ``tol`` times :math:`\overline{y^2}` (interpolation).
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    GDResult
    """
    X, y = _check_design(X, y)
    n, d, L = X.shape
    r = check_positive_int(rank, "rank")
    K = check_positive_int(n_init, "n_init")
    n_steps = check_positive_int(n_steps, "n_steps")
    lr = check_positive_scalar(lr, "lr")
    init_scale = check_positive_scalar(init_scale, "init_scale")
    tol = check_positive_scalar(tol, "tol")
    rng = np.random.default_rng(rng)
    N = d * L
    Phi = X.reshape(n, N)
    c = 1.0 / np.sqrt(N * r)  # y_hat = c * Phi vec(U V^T)
    U = init_scale * rng.standard_normal((K, d, r))
    V = init_scale * rng.standard_normal((K, L, r))
    y_scale = max(float(np.mean(y**2)), 1e-300)
    losses = []
    converged = False
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(1, n_steps + 1):
            W = U @ np.swapaxes(V, 1, 2)  # (K, d, L)
            resid = c * (Phi @ W.reshape(K, N).T) - y[:, None]  # (n, K)
            loss = np.mean(resid**2, axis=0)
            losses.append(loss)
            if not np.all(np.isfinite(loss)):
                break
            if np.all(loss < tol * y_scale):
                converged = True
                break
            # dLoss/dW = (c/2) mat(Phi^T resid); chain rule through W = U V^T.
            M = (0.5 * c) * (resid.T @ Phi).reshape(K, d, L)
            U, V = U - lr * (M @ V), V - lr * (np.swapaxes(M, 1, 2) @ U)
    S_runs = U @ np.swapaxes(V, 1, 2) / np.sqrt(r)
    history = np.asarray(losses)
    if not converged:
        diverged = not np.all(np.isfinite(history[-1]))
        warnings.warn("gradient descent " + ("diverged (lower lr)" if diverged else
                      f"did not interpolate in {n_steps} steps (tol={tol:g})"),
                      ConvergenceWarning, stacklevel=2)
    return GDResult(S_hat=S_runs.mean(axis=0), S_runs=S_runs, train_loss=history[-1],
                    loss_history=history, converged=converged, n_iter=len(losses))
