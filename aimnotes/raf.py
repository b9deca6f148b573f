r"""The rules-and-facts (RAF) model: generalising a rule while memorising facts.

Model (Farné, Boncoraglio, Zdeborová [1]_): inputs
:math:`x_\mu \sim \mathcal N(0, I_d)`, a teacher :math:`w^\star \sim
\mathcal N(0, I_d)` with field :math:`\nu_\mu = w^\star\cdot x_\mu/\sqrt d`,
and :math:`n = \alpha d` labels. With probability :math:`1 - \varepsilon` a
sample is a **rule**, :math:`y = \operatorname{sign}\nu`; with probability
:math:`\varepsilon` it is a **fact** with a uniform random label, so

.. math::

    P(y \mid \nu) = (1 - \varepsilon)\,\delta_{y, \operatorname{sign}\nu}
    + \varepsilon/2 .

A linear student (or a kernel / random-features model, through Gaussian
equivalence) minimises the **sum**
:math:`\sum_\mu \ell(y_\mu, w\cdot x_\mu/\sqrt d) + \frac\lambda2 \|w\|^2`
with no bias, for the square, hinge and logistic losses. This module holds
the theory side:

* :func:`erm_state_evolution` -- ERM state evolution (Aubin et al. [2]_)
  for linear models and dot-product kernels, with the generalisation error
  :math:`\mathcal E_{\rm gen}` on fresh rules, the memorisation error
  :math:`\mathcal E_{\rm mem}` (training facts misclassified) and the
  training error on rules :math:`\mathcal E_{\rm tr,rule}`;
* :func:`random_features_state_evolution` -- the same for random features
  (Gerace et al. [3]_);
* :func:`bayes_optimal` -- the Bayes-optimal baseline;
* :func:`separability_threshold`, :func:`gardner_capacity`,
  :func:`optimal_lambda`.

Every function is vectorised over its grid arguments (``alpha``, and
``eps``, ``lam`` broadcast with it); the fixed points are iterated for the
whole grid at once with :func:`aimnotes.solvers.fixed_point`.

References
----------
.. [1] G. Farné, F. Boncoraglio, L. Zdeborová, "The Rules-and-Facts Model
   for Simultaneous Generalization and Memorization in Neural Networks",
   arXiv:2603.25579 (2026).
.. [2] B. Aubin, F. Krzakala, Y. Lu, L. Zdeborová, "Generalization error in
   high-dimensional perceptrons: approaching Bayes error with convex
   optimization", NeurIPS 2020.
.. [3] F. Gerace, B. Loureiro, F. Krzakala, M. Mézard, L. Zdeborová,
   "Generalisation error in learning with random features and the hidden
   manifold model", ICML 2020.
.. [4] E. Gardner, J. Phys. A 21, 257 (1988).
"""

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import erfcx, expit, ndtr, owens_t

from ._validation import (
    as_float_array,
    check_choice,
    check_in_range,
    check_nonnegative,
    check_positive,
    check_positive_int,
    scalar_or_array,
)
from .quadrature import gauss_hermite, gauss_legendre
from .solvers import ConvergenceWarning, fixed_point

__all__ = [
    "LOSSES",
    "ERMStateEvolution",
    "erm_state_evolution",
    "random_features_state_evolution",
    "BayesOptimal",
    "bayes_optimal",
    "separability_threshold",
    "gardner_capacity",
    "optimal_lambda",
    "rule_correlation",
]

#: Losses of :func:`erm_state_evolution`, with :math:`|g'(0)|` for
#: :math:`\ell(y, z) = g(yz)`.
LOSSES = {"square": 1.0, "hinge": 1.0, "logistic": 0.5}

_SQRT_2PI = np.sqrt(2.0 * np.pi)
_L = 10.0  # truncation of the xi integrals, |xi| <= _L
_N_GL = 32  # Gauss-Legendre nodes per piece
_START = (0.1, 0.8, 3.0)  # reference starting point (m, q, V)


def rule_correlation(eps):
    r""":math:`c(\varepsilon) = \mathbb E[y\nu] = (1 - \varepsilon)\sqrt{2/\pi}`."""
    eps = check_in_range(eps, "eps", 0.0, 1.0)
    return (1.0 - eps) * np.sqrt(2.0 / np.pi)


def optimal_lambda(eps):
    r"""Optimal ridge penalty of the square loss, independent of ``alpha``.

    .. math::

        \lambda_{\rm opt}(\varepsilon) = \frac{\pi}{2(1 - \varepsilon)^2} - 1
        = \frac{1 - c^2}{c^2},\qquad c = (1-\varepsilon)\sqrt{2/\pi},

    the noise-to-signal ratio of the Gaussian-equivalent model
    :math:`y \simeq c\nu + \sqrt{1 - c^2}\,\eta` [1]_. ``inf`` at ``eps = 1``.
    """
    eps = check_in_range(eps, "eps", 0.0, 1.0)
    with np.errstate(divide="ignore"):
        out = np.pi / (2.0 * (1.0 - eps) ** 2) - 1.0
    return scalar_or_array(out, np.shape(out))


def gardner_capacity(kappa):
    r"""Gardner capacity of the spherical perceptron at margin ``kappa``.

    .. math::

        \alpha_c(\kappa)^{-1} = \int_{-\kappa}^{\infty}\mathcal Dt\,(t + \kappa)^2
        = (1 + \kappa^2)\Phi(\kappa) + \kappa\varphi(\kappa),

    so :math:`\alpha_c(0) = 2` (Gardner 1988 [4]_). Replica symmetry is exact
    for ``kappa >= 0``; for ``kappa < 0`` the value is only an upper bound.
    """
    k = as_float_array(kappa, "kappa")
    g = (1.0 + k * k) * ndtr(k) + k * np.exp(-0.5 * k * k) / _SQRT_2PI
    with np.errstate(divide="ignore"):
        return scalar_or_array(1.0 / g, k.shape)


# ------------------------------------------------------------- separability
def _sep_bracket(t, eps):
    r"""Return the convex bracket of :func:`separability_threshold` (closed form)."""
    rule = (1.0 + t * t) * np.arctan2(1.0, t) / np.pi - t / np.pi  # 1/2 - arctan(t)/pi
    return (1.0 - eps) * rule + eps * 0.5 * (1.0 + t * t)


def _sep_slope(t, eps):
    return (1.0 - eps) * (t * (1.0 - 2.0 * np.arctan(t) / np.pi) - 2.0 / np.pi) + eps * t


def separability_threshold(eps):
    r"""Sample ratio beyond which RAF data are no longer linearly separable.

    .. math::

        \alpha_{\rm sep}(\varepsilon)^{-1} = \min_{t \ge 0}\Big\{
        (1 - \varepsilon)\,\mathbb E_\nu G(-t|\nu|) + \varepsilon\,\mathbb E_\nu G(t\nu)\Big\},
        \qquad G(\kappa) = (1 + \kappa^2)\Phi(\kappa) + \kappa\varphi(\kappa),

    Gardner's volume at teacher overlap :math:`R = t/\sqrt{1 + t^2}` with a
    per-sample margin (raf notes §6, *derived*). The Gaussian averages have
    the closed forms

    .. math::

        \mathbb E_\nu G(-t|\nu|) = (1 + t^2)\Big(\tfrac12 - \tfrac{\arctan t}{\pi}\Big)
        - \tfrac t\pi, \qquad \mathbb E_\nu G(t\nu) = \tfrac12(1 + t^2),

    (from :math:`\int_0^\infty \varphi(\nu) G(c\nu)\,d\nu = (1 + c^2)(\tfrac14
    + \tfrac{\arctan c}{2\pi}) + \tfrac{c}{2\pi}`), and the bracket is convex
    in :math:`t`: its stationary point is found by vectorised bisection on the
    derivative. Hard-margin SVM and :math:`\lambda \to 0^+` logistic
    regression interpolate (:math:`\mathcal E_{\rm mem} = 0`) only for
    :math:`\alpha < \alpha_{\rm sep}`.

    Parameters
    ----------
    eps : float or array_like in [0, 1]
        Fact fraction.

    Returns
    -------
    float or ndarray
        :math:`\alpha_{\rm sep} \ge 2`, equal to 2 at ``eps = 1`` (Cover's
        capacity) and ``inf`` at ``eps = 0`` (noiseless rules are always
        separable); decreasing in ``eps``.
    """
    eps = check_in_range(eps, "eps", 0.0, 1.0)
    e = eps.ravel()
    pos = e > 0
    ee = np.where(pos, e, 1.0)
    # slope(0) < 0 for eps < 1; at large t the slope is ~ eps t - 2(1-eps)/(3 pi t^2),
    # positive beyond t^3 = 2(1-eps)/(3 pi eps): the bracket below is generous.
    lo = np.zeros_like(ee)
    hi = 2.0 * (1.0 + (2.0 * (1.0 - ee) / (3.0 * np.pi * ee)) ** (1.0 / 3.0)) + 1.0
    for _ in range(200):  # fixed-depth bisection, vectorised
        mid = 0.5 * (lo + hi)
        up = _sep_slope(mid, ee) > 0
        hi = np.where(up, mid, hi)
        lo = np.where(up, lo, mid)
    out = np.where(pos, 1.0 / _sep_bracket(0.5 * (lo + hi), ee), np.inf)
    return scalar_or_array(out, eps.shape)


# ---------------------------------------------------------------- the prox
def _prox_square(omega, V, hard):
    r"""Square loss, ``y = +1``: ``h = (omega + V)/(1 + V)`` (``h = 1`` if hard)."""
    if hard:
        return (1.0 - omega) / V, np.broadcast_to(-1.0 / V, omega.shape)
    return (1.0 - omega) / (1.0 + V), np.broadcast_to(-1.0 / (1.0 + V), omega.shape)


def _prox_hinge(omega, V, hard):
    r"""Hinge loss, ``y = +1``: the piecewise table of the notes (§4)."""
    mid = omega < 1.0
    if hard:  # V -> inf: h = max(omega, 1)
        return np.where(mid, (1.0 - omega) / V, 0.0), np.where(mid, -1.0 / V, 0.0)
    low = omega < 1.0 - V
    f = np.where(low, 1.0, np.where(mid, (1.0 - omega) / V, 0.0))
    df = np.where(mid & ~low, -1.0 / V, 0.0)
    return f, df


def logistic_prox(omega, V, *, tol=1e-13, max_iter=100):
    r"""Proximal operator of the logistic loss for the label ``y = +1``.

    Solves :math:`h = \omega + V\sigma(-h)` by Newton's method with a bisection
    safeguard on the bracket :math:`[\omega, \omega + V]`, vectorised.

    Returns
    -------
    h, dh : ndarray
        The prox and :math:`\partial_\omega h = 1/(1 + V\sigma(h)\sigma(-h))`.
        For ``y = -1`` use :math:`h(-1, \omega) = -h(+1, -\omega)`.
    """
    omega, V = np.broadcast_arrays(np.asarray(omega, float), np.asarray(V, float))
    lo, hi = omega.copy(), omega + V
    h = omega + V * expit(-omega)  # one fixed-point step: inside the bracket
    dx_old = V.copy()
    for _ in range(max_iter):
        s = expit(-h)
        F = h - omega - V * s
        dF = 1.0 + V * s * (1.0 - s)
        pos = F > 0
        hi = np.where(pos, h, hi)
        lo = np.where(pos, lo, h)
        if np.all(np.abs(F) <= tol * (1.0 + np.abs(h))):
            break
        step = F / dF
        newton = h - step
        # rtsafe rule: bisect when Newton leaves the bracket or does not
        # shrink the step at least by half (the oscillations of a sigmoid).
        bad = ~((newton > lo) & (newton < hi)) | (np.abs(2.0 * step) > np.abs(dx_old))
        mid = 0.5 * (lo + hi)
        dx_old = np.where(bad, 0.5 * (hi - lo), np.abs(step))
        h = np.where(bad, mid, newton)
    s = expit(-h)
    return h, 1.0 / (1.0 + V * s * (1.0 - s))


def _prox_logistic(omega, V, hard):
    if hard:  # lambda -> 0+: the max-margin (hard-margin SVM) direction
        return _prox_hinge(omega, V, True)
    h, dh = logistic_prox(omega, V)
    return (h - omega) / V, (dh - 1.0) / V


_PROX = {"square": _prox_square, "hinge": _prox_hinge, "logistic": _prox_logistic}


def _extra_breaks(loss, sq, V, hard):
    """Breakpoints (in xi) where the loss' output function jumps or bends."""
    lo = np.full_like(V, -_L)
    if loss == "square":
        return [lo, lo, lo]
    if hard:
        return [1.0 / sq, lo, lo]
    if loss == "hinge":
        return [(1.0 - V) / sq, 1.0 / sq, lo]
    c = -0.5 * V  # logistic: h = 0 there; the transition spans ~ 3 + V/2
    w = 3.0 + 0.5 * V
    return [c / sq, (c - w) / sq, (c + w) / sq]


def _channel(m, q, V, alpha, eps, loss, hard, n_gl=_N_GL):
    r"""Channel side of ERM state evolution: :math:`(\hat m, \hat q, \hat V)`.

    The two labels contribute equally (margin losses are odd under
    :math:`y \to -y,\ \xi \to -\xi`), so only ``y = +1`` is integrated:

    .. math::

        \hat m = 2\alpha(1-\varepsilon)\,\mathbb E_\xi\Big[\frac{\varphi(r\xi/s)}{s}
        f_{\rm out}(1, \sqrt q\xi, V)\Big], \quad
        \hat q = 2\alpha\,\mathbb E_\xi[P(1|\xi) f_{\rm out}^2], \quad
        \hat V = -2\alpha\,\mathbb E_\xi[P(1|\xi)\partial_\omega f_{\rm out}],

    with :math:`r = m/\sqrt q`, :math:`s = \sqrt{1 - r^2}` and
    :math:`P(1|\xi) = (1-\varepsilon)\Phi(r\xi/s) + \varepsilon/2`. The
    :math:`\xi` line is cut at the loss' breakpoints, at 0 and at
    :math:`\pm 2s, \pm 8s` (the teacher's conditional scale), and every
    piece gets Gauss-Legendre nodes.
    """
    sq = np.sqrt(np.maximum(q, 1e-300))[:, None]
    r = np.clip(m[:, None] / sq, -1.0 + 1e-15, 1.0 - 1e-15)
    s = np.sqrt((1.0 - r) * (1.0 + r))
    Vc = V[:, None]
    N = m.shape[0]
    fixed = [np.full((N, 1), v) for v in (-_L, _L, -6.0, -3.0, 0.0, 3.0, 6.0)]
    soft = [-8 * s, -2 * s, 2 * s, 8 * s]
    breaks = np.clip(np.concatenate(fixed + soft + _extra_breaks(loss, sq, Vc, hard), axis=1),
                     -_L, _L)
    breaks.sort(axis=1)
    x, w = gauss_legendre(n_gl, 0.0, 1.0)
    a, b = breaks[:, :-1, None], breaks[:, 1:, None]
    xi = (a + (b - a) * x).reshape(N, -1)
    wq = ((b - a) * w).reshape(N, -1)
    f, df = _PROX[loss](sq * xi, Vc, hard)
    e = eps[:, None]
    w_m = (1.0 - e) * np.exp(-0.5 * (xi / s) ** 2) / (s * 2.0 * np.pi)  # phi(0) phi(xi/s)/s
    w_p = np.exp(-0.5 * xi * xi) / _SQRT_2PI * ((1.0 - e) * ndtr(r * xi / s) + 0.5 * e)
    two_a = 2.0 * alpha
    m_hat = two_a * np.sum(wq * w_m * f, axis=1)
    q_hat = two_a * np.sum(wq * w_p * f * f, axis=1)
    V_hat = -two_a * np.sum(wq * w_p * df, axis=1)
    return m_hat, q_hat, V_hat


def _ridge_update(m_hat, q_hat, V_hat, lam, mu1, mu_star, hard):
    r"""Prior side for a linear model or a dot-product kernel (notes §2, §5).

    With :math:`\lambda' = \lambda/\mu_1^2` (or 1/mu1^2 in rescaled
    variables) and :math:`A = \lambda' + \hat V`: :math:`m = \hat m/A`,
    :math:`q = (\hat m^2 + \hat q)/A^2`, :math:`V = 1/A + \mu_\star^2/\lambda`
    (:math:`\bar V = 1/A + \mu_\star^2` in rescaled variables).
    """
    mu2 = mu1 * mu1
    A = np.where(hard, 1.0 / mu2, lam / mu2) + V_hat
    with np.errstate(divide="ignore", invalid="ignore"):
        private = np.where(hard, mu_star**2, np.where(mu_star > 0, mu_star**2 / lam, 0.0))
    return m_hat / A, (m_hat**2 + q_hat) / A**2, 1.0 / A + private


def _rf_update(m_hat, q_hat, V_hat, lam, mu1, mu_star, kappa):
    r"""Prior side for random features (Gerace et al. form; notes §5)."""
    gamma = 1.0 / kappa
    ms_hat = mu1 * kappa * m_hat
    qs_hat = mu1**2 * kappa * q_hat
    Vs_hat = mu1**2 * kappa * V_hat
    qw_hat = mu_star**2 * q_hat
    Vw_hat = mu_star**2 * V_hat
    Lam = lam + Vw_hat
    z = Lam / Vs_hat
    D = np.sqrt((1.0 + gamma + z) ** 2 - 4.0 * gamma)
    M = ms_hat**2 + qs_hat
    W = z * D - z * z - (gamma + 1.0) * z
    Vs = (z + 1.0 + gamma - D) / (2.0 * gamma * Vs_hat)
    ms = ms_hat * Vs
    Vw = (1.0 - gamma - z + D) / (2.0 * Lam)
    qs = (M * ((2 * z + gamma + 1) * D - 2 * z * z - 3 * (gamma + 1) * z - (gamma - 1) ** 2)
          / (2 * gamma * Vs_hat**2 * D) - qw_hat * W / (2 * gamma * Vs_hat * Lam * D))
    qw = (qw_hat * ((1 - gamma) * D + (gamma + 1) * z + (gamma - 1) ** 2) / (2 * Lam**2 * D)
          - M * W / (2 * Vs_hat * Lam * D))
    return mu1 * ms, mu1**2 * qs + mu_star**2 * qw, mu1**2 * Vs + mu_star**2 * Vw


# ------------------------------------------------------------------ errors
def _errors(m, q, V, loss, hard):
    r"""Generalisation, memorisation and rule-training errors (notes §2)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        sq = np.sqrt(q)
        r = np.where(q > 0, np.clip(m / sq, -1.0, 1.0), np.where(np.isnan(q + m), np.nan, 0.0))
        gen = np.arccos(r) / np.pi
        a = np.where(hard | (q <= 0), np.inf, LOSSES[loss] * V / sq)
        rc = np.clip(r, -1.0 + 1e-16, 1.0 - 1e-16)
        mem = ndtr(-a)
        tr = np.where(np.isinf(a), 0.0, ndtr(-a) - 2.0 * owens_t(np.where(np.isinf(a), 0.0, a),
                                                                  rc / np.sqrt(1 - rc * rc)))
    bad = np.isnan(q + m + V)
    return gen, np.where(bad, np.nan, mem), np.where(bad, np.nan, np.maximum(tr, 0.0))


@dataclass(frozen=True)
class ERMStateEvolution:
    r"""Fixed point of ERM state evolution; every field has the broadcast shape.

    Attributes
    ----------
    alpha, eps, lam : float or ndarray
        The (broadcast) parameters.
    m, q, V : overlaps :math:`m = w\cdot w^\star/d`, :math:`q = \|w\|^2/d`
        and susceptibility, as seen by the channel (for kernels
        :math:`m = \mu_1 m_s`, :math:`q = \mu_1^2 q_s`,
        :math:`V = \mu_1^2 V_s + \mu_\star^2/\lambda`). Where ``rescaled``,
        ``V`` holds :math:`\bar V = \lambda V`.
    m_hat, q_hat, V_hat : conjugates (channel side). Where ``rescaled`` they
        hold :math:`\hat m/\lambda`, :math:`\hat q/\lambda^2`, :math:`\hat V/\lambda`.
    gen_error : :math:`\arccos(m/\sqrt q)/\pi`, 0-1 error on fresh rules.
    mem_error : fraction of training facts misclassified,
        :math:`\Phi(-|g'(0)|V/\sqrt q)` (0 where ``rescaled``: interpolation).
    train_error_rule : fraction of training rules misclassified,
        :math:`\Phi(-a) - 2T(a, r/\sqrt{1 - r^2})` with
        :math:`a = |g'(0)|V/\sqrt q`, :math:`r = m/\sqrt q`.
    rescaled : bool; the point was solved with the :math:`\lambda \to 0^+`
        (interpolation / max-margin) equations.
    converged : bool
    n_iter : int (0 for closed forms)
    """

    alpha: np.ndarray
    eps: np.ndarray
    lam: np.ndarray
    m: np.ndarray
    q: np.ndarray
    V: np.ndarray
    m_hat: np.ndarray
    q_hat: np.ndarray
    V_hat: np.ndarray
    gen_error: np.ndarray
    mem_error: np.ndarray
    train_error_rule: np.ndarray
    rescaled: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray


def _check_common(alpha, eps, lam, loss, mu1, mu_star, extra=()):
    check_choice(loss, "loss", set(LOSSES))
    alpha = check_nonnegative(alpha, "alpha")
    eps = check_in_range(eps, "eps", 0.0, 1.0)
    lam = check_nonnegative(lam, "lam")
    mu1 = check_positive(mu1, "mu1")
    mu_star = check_nonnegative(mu_star, "mu_star")
    arrays = np.broadcast_arrays(alpha, eps, lam, mu1, mu_star, *extra)
    shape = arrays[0].shape
    return shape, [np.array(x, dtype=float).ravel() for x in arrays]


def _pack(shape, **fields):
    return ERMStateEvolution(**{k: scalar_or_array(v, shape) for k, v in fields.items()})


def _square_closed(alpha, eps, lam, mu1, mu_star):
    r"""Square loss in closed form (notes §3, with the kernel shift of §5).

    Soft (:math:`\lambda > 0`, or ridgeless with :math:`\alpha > 1`): with
    :math:`\lambda' = \lambda/\mu_1^2` and :math:`k = \mu_\star^2/\lambda`,
    :math:`V` is the positive root of
    :math:`\lambda'V^2 + (\lambda' + \alpha - 1 - \lambda'k)V - (1 + k\lambda' + k\alpha) = 0`,
    then :math:`\hat m = \alpha c/(1+V)`, :math:`\hat V = \alpha/(1+V)`,
    :math:`m = (V - k)\hat m` and :math:`q` solves a linear equation.
    Rescaled (:math:`\lambda = 0` with :math:`\alpha < 1` or
    :math:`\mu_\star > 0`): :math:`\bar V` is the positive root of
    :math:`\bar V^2/\mu_1^2 + (\alpha - \mu_\star^2/\mu_1^2 - 1)\bar V - \alpha\mu_\star^2 = 0`.
    """
    c = (1.0 - eps) * np.sqrt(2.0 / np.pi)
    mu2, ms2 = mu1**2, mu_star**2
    hard = (lam == 0) & ((alpha < 1) | (mu_star > 0))
    critical = (lam == 0) & (alpha == 1) & (mu_star == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # soft branch
        lp = lam / mu2
        k = np.where(mu_star > 0, ms2 / np.where(lam > 0, lam, 1.0), 0.0)
        B = lp + alpha - 1.0 - lp * k
        C = 1.0 + k * lp + k * alpha
        Vs = 2.0 * C / (B + np.sqrt(B * B + 4.0 * lp * C))
        one_v = 1.0 + Vs
        mh_s = alpha * c / one_v
        Vh_s = alpha / one_v
        G = Vs - k  # = 1/A
        m_s = G * mh_s
        q_s = (G**2 * (mh_s**2 + alpha * (1 - 2 * c * m_s) / one_v**2)
               / (1 - G**2 * alpha / one_v**2))
        qh_s = alpha * (1 + q_s - 2 * c * m_s) / one_v**2
        # rescaled branch (V -> V_bar = lam V, hats / lam^p)
        Bh = alpha - ms2 / mu2 - 1.0
        Ch = alpha * ms2
        Vb = np.where(Bh < 0, 0.5 * mu2 * (-Bh + np.sqrt(Bh * Bh + 4 * Ch / mu2)),
                      2 * Ch / (Bh + np.sqrt(Bh * Bh + 4 * Ch / mu2)))
        mh_h = alpha * c / Vb
        Vh_h = alpha / Vb
        Gh = Vb - ms2
        m_h = Gh * mh_h
        q_h = Gh**2 * (mh_h**2 + alpha * (1 - 2 * c * m_h) / Vb**2) / (1 - Gh**2 * alpha / Vb**2)
        qh_h = alpha * (1 + q_h - 2 * c * m_h) / Vb**2
    pick = lambda x_h, x_s: np.where(hard, x_h, x_s)  # noqa: E731
    m, q, V = pick(m_h, m_s), pick(q_h, q_s), pick(Vb, Vs)
    m_hat, q_hat, V_hat = pick(mh_h, mh_s), pick(qh_h, qh_s), pick(Vh_h, Vh_s)
    # ridgeless interpolation peak alpha = 1: q diverges, the error is 1/2
    m = np.where(critical, c, m)
    q, V = np.where(critical, np.inf, q), np.where(critical, np.inf, V)
    gen, mem, tr = _errors(m, q, V, "square", hard)
    gen = np.where(critical, 0.5, gen)
    return dict(m=m, q=q, V=V, m_hat=m_hat, q_hat=q_hat, V_hat=V_hat, gen_error=gen,
                mem_error=np.where(critical, 0.5, mem),
                train_error_rule=np.where(critical, 0.5, tr),
                rescaled=hard, converged=np.ones(alpha.shape, bool),
                n_iter=np.zeros(alpha.shape, int))


def _prox_fixed_point(flat, loss, *, update, hard, tol, max_iter, damping, n_gl, name):
    """Iterate (m, q, V) -> channel -> prior update for a flat batch."""
    alpha, eps = flat["alpha"], flat["eps"]
    N = alpha.size
    x0 = np.tile(np.array(_START, float), (N, 1))
    x0[hard, 2] = 0.5  # rescaled V_bar lies in (0, 1 + mu_star^2]
    params = (alpha, eps, hard) + tuple(flat["prior"])

    def channel(x, a, e, hd):
        out = [np.empty(x.shape[0]) for _ in range(3)]
        for mode in (False, True):  # two vectorised calls, one per mode
            sel = hd == mode
            if np.any(sel):
                res = _channel(x[sel, 0], x[sel, 1], x[sel, 2], a[sel], e[sel], loss, mode, n_gl)
                for o, v in zip(out, res):
                    o[sel] = v
        return out

    def step(x, a, e, hd, *prior):
        hats = channel(x, a, e, hd)
        return np.stack(update(*hats, *prior, hd), axis=1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("default", ConvergenceWarning)
        x, converged, n_iter = fixed_point(step, x0, params, tol=tol, max_iter=max_iter,
                                           damping=damping, name=name)
    finite = np.all(np.isfinite(x), axis=1)
    converged &= finite
    m, q, V = x.T
    hats = channel(x, alpha, eps, hard)
    return m, q, V, hats, converged, n_iter


def _lam_zero_split(alpha, eps, lam, mu_star, loss):
    """Which points use the rescaled lambda -> 0+ equations, and invalid ones."""
    zero = lam == 0
    if loss == "square":
        thr = np.ones_like(alpha)
    else:
        thr = separability_threshold(eps) * np.ones_like(alpha)
    hard = zero & ((alpha < thr) | (mu_star > 0))
    beyond = zero & ~hard & (loss != "square")
    return hard, beyond


def _erm_prox_se(alpha, eps, lam, loss="square", *, mu1=1.0, mu_star=0.0, tol=1e-11,
                 max_iter=20_000, damping=0.3, n_gl=_N_GL):
    """Generic-prox ERM state evolution (every loss, incl. square)."""
    shape, (a, e, lm, m1, ms) = _check_common(alpha, eps, lam, loss, mu1, mu_star)
    damping = float(check_in_range(damping, "damping", 0.0, 1.0, high_open=True))
    max_iter = check_positive_int(max_iter, "max_iter")
    hard, beyond = _lam_zero_split(a, e, lm, ms, loss)
    if np.any(beyond):
        warnings.warn(
            f"lam = 0 with alpha >= separability_threshold(eps) for loss={loss!r}: the data "
            "are not separable, the max-margin (lambda -> 0+) equations do not apply; "
            "these points are returned as NaN with converged=False",
            ConvergenceWarning, stacklevel=3)
    ok = ~beyond
    out = {k: np.full(a.shape, np.nan) for k in ("m", "q", "V", "m_hat", "q_hat", "V_hat")}
    converged = np.zeros(a.shape, bool)
    n_iter = np.zeros(a.shape, int)
    if np.any(ok):
        flat = {"alpha": a[ok], "eps": e[ok], "prior": (lm[ok], m1[ok], ms[ok])}
        m, q, V, hats, conv, nit = _prox_fixed_point(
            flat, loss, update=_ridge_update, hard=hard[ok], tol=tol, max_iter=max_iter,
            damping=damping, n_gl=n_gl, name=f"ERM state evolution ({loss})")
        for k, v in zip(("m", "q", "V", "m_hat", "q_hat", "V_hat"), (m, q, V) + tuple(hats)):
            out[k][ok] = v
        converged[ok], n_iter[ok] = conv, nit
    gen, mem, tr = _errors(out["m"], out["q"], out["V"], loss, hard)
    return _pack(shape, alpha=a, eps=e, lam=lm, **out, gen_error=gen, mem_error=mem,
                 train_error_rule=tr, rescaled=hard, converged=converged, n_iter=n_iter)


def erm_state_evolution(alpha, eps, lam, loss="square", *, mu1=1.0, mu_star=0.0, tol=1e-11,
                        max_iter=20_000, damping=0.3):
    r"""ERM state evolution of the RAF model, vectorised over the grid.

    Channel side (Aubin et al. 2020; raf notes §2), with the proximal
    operator :math:`h = \operatorname{arg\,min}_z[\ell(y,z) + (z-\omega)^2/2V]`,
    :math:`f_{\rm out} = (h - \omega)/V`, :math:`\omega = \sqrt q\,\xi`,
    :math:`\omega_0 = (m/\sqrt q)\xi`, :math:`V_0 = 1 - m^2/q` and
    :math:`P(y|\xi) = (1-\varepsilon)\Phi(y m\xi/\sqrt{q - m^2}) + \varepsilon/2`:

    .. math::

        \hat m = \alpha\,\mathbb E_\xi\sum_y (1-\varepsilon)\,y\,
        \frac{e^{-\omega_0^2/2V_0}}{\sqrt{2\pi V_0}} f_{\rm out},\quad
        \hat q = \alpha\,\mathbb E_\xi\sum_y P(y|\xi) f_{\rm out}^2,\quad
        \hat V = -\alpha\,\mathbb E_\xi\sum_y P(y|\xi)\,\partial_\omega f_{\rm out};

    prior side (ridge, teacher of unit norm):
    :math:`m = \hat m/(\lambda + \hat V)`,
    :math:`q = (\hat m^2 + \hat q)/(\lambda + \hat V)^2`,
    :math:`V = 1/(\lambda + \hat V)`.

    * ``"square"`` is solved in closed form (notes §3): :math:`V` solves
      :math:`\lambda V^2 + (\lambda + \alpha - 1)V - 1 = 0` (independent of
      :math:`\varepsilon`), :math:`m = \alpha c V/(1 + V)` with
      :math:`c = (1-\varepsilon)\sqrt{2/\pi}`, and :math:`q` follows.
    * ``"hinge"`` uses the piecewise prox table (§4), integrated with the
      :math:`\xi` line split at its breakpoints and Gauss-Legendre pieces.
    * ``"logistic"`` solves :math:`h = \omega + Vy\sigma(-yh)` with a
      vectorised safeguarded Newton iteration (``logistic_prox``).

    **lam = 0** uses the rescaled variables :math:`\bar V = \lambda V`,
    :math:`\hat m/\lambda`, :math:`\hat q/\lambda^2`, :math:`\hat V/\lambda`
    (min-norm interpolator for the square loss, hard-margin SVM for hinge;
    logistic regression converges in direction to the same max-margin
    solution) wherever the data can be interpolated: :math:`\alpha < 1`
    (square), :math:`\alpha < \alpha_{\rm sep}(\varepsilon)` (hinge,
    logistic; :func:`separability_threshold`), every :math:`\alpha` for a
    kernel with :math:`\mu_\star > 0`. Ridgeless square loss at
    :math:`\alpha > 1` is the ordinary equation at :math:`\lambda = 0`
    (:math:`V = 1/(\alpha - 1)`) and gives 1/2 at :math:`\alpha = 1`.
    **Hinge / logistic at lam = 0 beyond separability are not handled:**
    those points are NaN with ``converged=False`` and a
    :class:`~aimnotes.solvers.ConvergenceWarning`; use a small positive
    ``lam`` there.

    **Kernels** :math:`K(x,x') = f(x\cdot x'/d)` enter through
    :math:`(\mu_1, \mu_\star)`, :math:`\mu_1^2 = f'(0)`,
    :math:`\mu_\star^2 = f(1) - f(0) - f'(0)` (Gaussian equivalence, §5): the
    channel is evaluated at :math:`m = \mu_1 m_s`, :math:`q = \mu_1^2 q_s`,
    :math:`V = \mu_1^2 V_s + \mu_\star^2/\lambda`, and the ridge update acts
    on :math:`(m_s, q_s, V_s)` with :math:`\hat m_s = \mu_1\hat m`,
    :math:`\hat q_s = \mu_1^2\hat q`, :math:`\hat V_s = \mu_1^2\hat V`. For
    the square loss KRR has the :math:`\mathcal E_{\rm gen}` of linear ridge
    at :math:`\lambda_{\rm eff} = (\lambda + \mu_\star^2)/\mu_1^2`.

    Errors: :math:`\mathcal E_{\rm gen} = \arccos(m/\sqrt q)/\pi`;
    for :math:`\ell = g(yz)` with :math:`g` convex decreasing,
    :math:`\mathcal E_{\rm mem} = \Phi(-a)` and
    :math:`\mathcal E_{\rm tr,rule} = 2[\Phi(-a) - \Phi_2(-a, 0; r)]` with
    :math:`a = |g'(0)|V/\sqrt q`, :math:`r = m/\sqrt q` (:math:`|g'(0)| = 1`
    for square and hinge, 1/2 for logistic).

    Parameters
    ----------
    alpha : float or array_like
        Sample ratio :math:`n/d \ge 0`.
    eps : float or array_like in [0, 1]
        Fact fraction; broadcast with ``alpha`` and ``lam``.
    lam : float or array_like
        Ridge penalty :math:`\lambda \ge 0` of the **sum** objective.
    loss : {"square", "hinge", "logistic"}
    mu1, mu_star : float or array_like, keyword-only
        Gaussian-equivalent kernel coefficients (default: linear model).
    tol, max_iter, damping
        Of the fixed-point iteration (:func:`aimnotes.solvers.fixed_point`,
        absolute tolerance on :math:`(m, q, V)`), unused for the closed forms.

    Returns
    -------
    ERMStateEvolution
        Fields have the broadcast shape of ``alpha, eps, lam, mu1, mu_star``.

    References
    ----------
    G. Farné, F. Boncoraglio, L. Zdeborová, arXiv:2603.25579 (2026);
    B. Aubin, F. Krzakala, Y. Lu, L. Zdeborová, NeurIPS 2020.

    Examples
    --------
    >>> from aimnotes import raf
    >>> se = raf.erm_state_evolution([1.0, 4.0], 0.2, 0.1, "hinge")
    >>> se.gen_error.round(3), se.mem_error.round(3)
    (array([0.336, 0.186]), array([0.007, 0.317]))
    """
    if loss != "square":
        return _erm_prox_se(alpha, eps, lam, loss, mu1=mu1, mu_star=mu_star, tol=tol,
                            max_iter=max_iter, damping=damping)
    shape, (a, e, lm, m1, ms) = _check_common(alpha, eps, lam, loss, mu1, mu_star)
    out = _square_closed(a, e, lm, m1, ms)
    return _pack(shape, alpha=a, eps=e, lam=lm, **out)


def random_features_state_evolution(alpha, eps, lam, kappa_rf, loss="square", *,
                                    mu1=np.sqrt(2 / np.pi), mu_star=np.sqrt(1 - 2 / np.pi),
                                    tol=1e-11, max_iter=20_000, damping=0.5):
    r"""ERM state evolution for random features :math:`\sigma(Fx/\sqrt d)`, ``p = kappa_rf d``.

    Gaussian equivalence in the form of Gerace et al. (ICML 2020; raf notes
    §5). With :math:`\gamma = 1/\kappa_{\rm RF}`, the channel of
    :func:`erm_state_evolution` is evaluated at
    :math:`m = \mu_1 m_s`, :math:`q = \mu_1^2 q_s + \mu_\star^2 q_w`,
    :math:`V = \mu_1^2 V_s + \mu_\star^2 V_w` and sample ratio
    :math:`n/p = \alpha/\kappa_{\rm RF}`; then
    :math:`\hat m_s = \mu_1\kappa_{\rm RF}\hat m`,
    :math:`\hat q_s = \mu_1^2\kappa_{\rm RF}\hat q`,
    :math:`\hat V_s = \mu_1^2\kappa_{\rm RF}\hat V`,
    :math:`\hat q_w = \mu_\star^2\hat q`, :math:`\hat V_w = \mu_\star^2\hat V`,
    and with :math:`\Lambda = \lambda + \hat V_w`, :math:`z = \Lambda/\hat V_s`,
    :math:`\Delta = \sqrt{(1 + \gamma + z)^2 - 4\gamma}`,
    :math:`M = \hat m_s^2 + \hat q_s`,
    :math:`W = z\Delta - z^2 - (\gamma + 1)z`:

    .. math::

        V_s = \frac{z + 1 + \gamma - \Delta}{2\gamma\hat V_s},\quad
        m_s = \hat m_s V_s,\quad V_w = \frac{1 - \gamma - z + \Delta}{2\Lambda},

        q_s = \frac{M[(2z+\gamma+1)\Delta - 2z^2 - 3(\gamma+1)z - (\gamma-1)^2]}
        {2\gamma\hat V_s^2\Delta} - \frac{\hat q_w W}{2\gamma\hat V_s\Lambda\Delta},\quad
        q_w = \frac{\hat q_w[(1-\gamma)\Delta + (\gamma+1)z + (\gamma-1)^2]}{2\Lambda^2\Delta}
        - \frac{MW}{2\hat V_s\Lambda\Delta}.

    The readout is :math:`w\cdot\sigma(Fx/\sqrt d)/\sqrt p` with penalty
    :math:`\frac\lambda2\|w\|^2`. As ``kappa_rf -> inf`` the result tends to
    the kernel of :func:`erm_state_evolution` with the same
    :math:`(\mu_1, \mu_\star)`. The defaults are the sign activation,
    :math:`\mu_1^2 = 2/\pi`, :math:`\mu_\star^2 = 1 - 2/\pi`.

    Parameters
    ----------
    alpha : float or array_like, > 0
    eps : float or array_like in [0, 1]
    lam : float or array_like, > 0
        (``lam = 0`` is not supported for random features.)
    kappa_rf : float or array_like, > 0
        :math:`p/d` (not a margin). All four are broadcast together.
    loss : {"square", "hinge", "logistic"}
        Every loss goes through the generic prox channel.
    mu1, mu_star : float, keyword-only
        Coefficients of the activation, :math:`\mu_1 = \mathbb E z\sigma(z)`,
        :math:`\mu_\star^2 = \mathbb E\sigma^2 - \mu_0^2 - \mu_1^2`.
    tol, max_iter, damping
        Of the fixed-point iteration (default damping 0.5, notes §9).

    Returns
    -------
    ERMStateEvolution
        ``m, q, V`` are the channel-side overlaps above; the errors use them.
    """
    check_positive(alpha, "alpha")
    check_positive(lam, "lam")
    kappa_rf = check_positive(kappa_rf, "kappa_rf")
    shape, (a, e, lm, m1, ms, kp) = _check_common(alpha, eps, lam, loss, mu1, mu_star,
                                                  extra=(kappa_rf,))
    damping = float(check_in_range(damping, "damping", 0.0, 1.0, high_open=True))
    max_iter = check_positive_int(max_iter, "max_iter")
    hard = np.zeros(a.shape, bool)

    def update(m_hat, q_hat, V_hat, lam_, mu1_, mus_, kappa_, hd):
        return _rf_update(m_hat, q_hat, V_hat, lam_, mu1_, mus_, kappa_)

    flat = {"alpha": a / kp, "eps": e, "prior": (lm, m1, ms, kp)}
    m, q, V, hats, conv, nit = _prox_fixed_point(
        flat, loss, update=update, hard=hard, tol=tol, max_iter=max_iter, damping=damping,
        n_gl=_N_GL, name=f"random-features state evolution ({loss})")
    gen, mem, tr = _errors(m, q, V, loss, hard)
    return _pack(shape, alpha=a, eps=e, lam=lm, m=m, q=q, V=V, m_hat=hats[0], q_hat=hats[1],
                 V_hat=hats[2], gen_error=gen, mem_error=mem, train_error_rule=tr,
                 rescaled=hard, converged=conv, n_iter=nit)


# ------------------------------------------------------------ Bayes-optimal
@dataclass(frozen=True)
class BayesOptimal:
    r"""Bayes-optimal fixed point; fields have the broadcast shape of (alpha, eps).

    Attributes
    ----------
    alpha, eps : float or ndarray
    q : overlap of the posterior mean with the teacher.
    q_hat : its conjugate.
    gen_error : :math:`\arccos(\sqrt q)/\pi`.
    converged : bool
    n_iter : int
    """

    alpha: np.ndarray
    eps: np.ndarray
    q: np.ndarray
    q_hat: np.ndarray
    gen_error: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray


_BO_NODES = 201


def _bo_q_hat(q, alpha, eps):
    r""":math:`\hat q(q)` of the label-flip channel, smooth form of notes §7."""
    s, w = gauss_hermite(_BO_NODES)
    qc = q[:, None]
    e = eps[:, None]
    # e^{-(1+q)s^2/2}/(1 + (1-eps) erf(sqrt(q/2) s)) = e^{-s^2/2} g(s)
    with np.errstate(over="ignore"):
        g = 1.0 / (e * np.exp(0.5 * qc * s * s) + (1.0 - e) * erfcx(-np.sqrt(qc / 2.0) * s))
    integral = np.sum(w * g, axis=1)  # = int ds e^{-s^2/2} g / sqrt(2 pi)
    return 2.0 * (1.0 - eps) ** 2 * alpha * integral / (np.pi * np.sqrt(1.0 - q))


def bayes_optimal(alpha, eps, *, tol=1e-13, max_iter=10_000):
    r"""Bayes-optimal state evolution of the RAF model (raf notes §7).

    The channel is :math:`Z(y,\omega,V) = \frac12[1 + (1-\varepsilon)y
    \operatorname{erf}(\omega/\sqrt{2V})]` with a Gaussian prior, so
    :math:`q = \hat q/(1 + \hat q)` with, after :math:`\xi = \sqrt{1-q}\,s`,

    .. math::

        \hat q = \frac{4(1-\varepsilon)^2\alpha}{2\pi\sqrt{2\pi}\sqrt{1-q}}
        \int ds\,\frac{e^{-(1+q)s^2/2}}{1 + (1-\varepsilon)\operatorname{erf}(\sqrt{q/2}\,s)},
        \qquad \mathcal E_{\rm gen}^{\rm BO} = \tfrac1\pi\arccos\sqrt q .

    The integrand is evaluated as :math:`e^{-s^2/2}/(\varepsilon e^{qs^2/2}
    + (1-\varepsilon)\operatorname{erfcx}(-\sqrt{q/2}\,s))` on Gauss-Hermite
    nodes, stable down to :math:`\varepsilon = 0`, where this is the
    spherical perceptron (:func:`aimnotes.glm.state_evolution` with
    ``Gaussian()`` and ``Sign()``). At large :math:`\alpha`,
    :math:`\mathcal E^{\rm BO}_{\rm gen} \simeq c_{\rm BO}(\varepsilon)/\alpha`.

    Parameters
    ----------
    alpha : float or array_like, >= 0
    eps : float or array_like in [0, 1]
    tol, max_iter
        Of the fixed-point iteration on ``q``.

    Returns
    -------
    BayesOptimal
    """
    alpha = check_nonnegative(alpha, "alpha")
    eps = check_in_range(eps, "eps", 0.0, 1.0)
    a, e = np.broadcast_arrays(alpha, eps)
    shape = a.shape
    a, e = a.ravel().astype(float), e.ravel().astype(float)

    def step(x, al, ep):
        qh = _bo_q_hat(x[:, 0], al, ep)
        return (qh / (1.0 + qh))[:, None]

    x, conv, nit = fixed_point(step, np.full((a.size, 1), 0.5), (a, e), tol=tol,
                               max_iter=max_iter, name="Bayes-optimal state evolution")
    q = x[:, 0]
    q_hat = _bo_q_hat(q, a, e)
    out = dict(alpha=a, eps=e, q=q, q_hat=q_hat, gen_error=np.arccos(np.sqrt(q)) / np.pi,
               converged=conv, n_iter=nit)
    return BayesOptimal(**{k: scalar_or_array(v, shape) for k, v in out.items()})


# Simulation side (finite-d learners, scikit-learn): data, fits, errors.
from ._raf_learners import *  # noqa: E402,F401,F403,I001
from ._raf_learners import __all__ as _learners_all  # noqa: E402

__all__ += _learners_all
