r"""Numerics of the hardmax output channel of the AIM with :math:`T = 2` tokens.

The labels are the row-wise argmax of the symmetric index matrix
:math:`h` (entries :math:`h_{11}, h_{22}, h_{12} = h_{21}`), stored as
one-hot rows ``y`` of shape ``(n, 2, 2)``. With :math:`s_1 = +1` if row 1
picks token 1 (:math:`h_{11} > h_{12}`), :math:`s_2 = +1` if row 2 picks
token 2 (:math:`h_{22} > h_{12}`), and a Gaussian belief
:math:`h \sim \mathcal N(\omega, VK)` on the independent entries,
:math:`K = \operatorname{diag}(2, 2, 1)`, the channel sees only
:math:`u_1 = \omega_{11} - \omega_{12}` and :math:`u_2 = \omega_{22} -
\omega_{12}`: :math:`\operatorname{Var}(h_{11} - h_{12}) = 3V` and the two
differences have correlation :math:`1/3`, so

.. math::

    Z_{\rm out}(y; \omega, V) = \Phi_2(k_1, k_2; \gamma), \qquad
    k_a = \frac{s_a u_a}{\sqrt{3V}}, \qquad \gamma = \frac{s_1 s_2}{3}.

The output function :math:`g = \nabla_\omega \log Z_{\rm out}` over the
entries :math:`a \le b` is :math:`g_{11} = p_1`, :math:`g_{22} = p_2`,
:math:`g_{12} = -(p_1 + p_2)` with

.. math::

    p_a = \frac{s_a}{\sqrt{3V}}\,\frac{A_a}{\Phi_2}, \qquad
    A_1 = \partial_{k_1}\Phi_2 = \varphi(k_1)\,
    \Phi\Big(\frac{k_2 - \gamma k_1}{\sqrt{1 - \gamma^2}}\Big),

and :math:`A_2` likewise, so that :math:`g^\top K g = 3p_1^2 + 3p_2^2 +
2p_1p_2`.

**The released derivative.** The code released with the paper [1]_ puts
the bivariate *density* :math:`\varphi_2(k_1, k_2; \gamma)/\Phi_2` in place
of both :math:`A_a/\Phi_2`. That is not the gradient of
:math:`\log Z_{\rm out}`; it is available here as
``derivative="released"`` only to reproduce the published hardmax curves,
which it makes too pessimistic.

**State evolution.** With :math:`\omega = \sqrt q\,K^{1/2}\xi`,
:math:`(u_1, u_2) \sim \mathcal N(0, q\,[[3, 1], [1, 3]])`, and with
:math:`t_a = u_a/\sqrt{3V}`, :math:`t \sim \mathcal N(0, rC)`,
:math:`C = [[1, 1/3], [1/3, 1]]`, :math:`r = q/V`,

.. math::

    F(q, V) \equiv \mathbb E_{\xi, y}\big[g^\top K g\big]
    = \frac{H(q/V)}{V}, \qquad
    H(r) = \frac13\,\mathbb E_t \sum_{s_1, s_2 = \pm1}
    \frac{3A_1^2 + 3A_2^2 + 2 s_1 s_2 A_1 A_2}{\Phi_2}
    \Big|_{k_a = s_a t_a,\ \gamma = s_1 s_2/3}

(released: :math:`(6 + 2s_1s_2)\,\varphi_2^2/\Phi_2` in the sum).
:math:`H` is computed once by quadrature and tabulated (see
:func:`fisher`).

References
----------
.. [1] L. Boncoraglio, E. Troiani, V. Erba, L. Zdeborová, "Bayes optimal
   learning of attention-indexed models", arXiv:2506.01582 (2025).
.. [2] D. B. Owen, "Tables for computing bivariate normal probabilities",
   Ann. Math. Statist. 27, 1075 (1956).
"""

from functools import lru_cache

import numpy as np
from scipy.special import erfcx, log_ndtr, ndtr, owens_t

from ._validation import (
    as_float_array,
    check_choice,
    check_in_range,
    check_nonnegative,
    check_positive,
)
from .channels import mills, mills_excess
from .quadrature import gauss_hermite, gauss_legendre

__all__ = [
    "bivariate_normal_cdf",
    "log_z_and_gradient",
    "sample_labels",
    "check_labels",
    "g_out",
    "log_z_out",
    "fisher",
    "fisher_quadrature",
    "small_width_fisher_at_zero",
    "DERIVATIVES",
]

#: Accepted values of the ``derivative`` argument.
DERIVATIVES = ("exact", "released")

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_SQRT_HALF_PI = np.sqrt(0.5 * np.pi)
_SQRT2 = np.sqrt(2.0)
_GAMMA = 1.0 / 3.0  # correlation of h11 - h12 and h22 - h12
_K_MAX = 1e150
# Owen's T is used where its terms cancel by less than this factor (scipy's
# owens_t carries ~1e-13 relative error, so Phi_2 keeps ~1e-11); the
# one-dimensional integral of _phi2_tail takes over below it.
_OWEN_CANCELLATION = 1e-2


# ------------------------------------------------------- bivariate normal CDF
def _log_inv_mills(w):
    r""":math:`\log(\Phi(w)/\varphi(w))`, stable for all ``w``."""
    neg = w < 0
    wn = np.where(neg, w, 0.0)
    wp = np.where(neg, 0.0, w)
    return np.where(
        neg,
        np.log(_SQRT_HALF_PI * erfcx(-wn / _SQRT2)),
        log_ndtr(wp) + 0.5 * wp * wp + _LOG_SQRT_2PI,
    )


def _log_ndtr_diff(w, d):
    r""":math:`\log\Phi(w + d) - \log\Phi(w)` without cancellation.

    Where both arguments are negative, :math:`\log\Phi(z) = -z^2/2 +
    \log(\operatorname{erfcx}(-z/\sqrt2)/2)` turns the difference into
    :math:`-d(w + d/2)` plus a ratio of ``erfcx``, exact even when
    :math:`|w| \sim 10^7` and :math:`d \sim 10^{-6}`.
    """
    w, d = np.broadcast_arrays(w, d)
    z = w + d
    both = (w < 0) & (z < 0)
    out = np.empty(z.shape)
    wn, zn, dn = w[both], z[both], d[both]
    out[both] = -dn * (wn + 0.5 * dn) + np.log(erfcx(-zn / _SQRT2) / erfcx(-wn / _SQRT2))
    other = ~both
    out[other] = log_ndtr(z[other]) - log_ndtr(w[other])
    return out


def _phi2_owen(h, k, rho):
    r"""Owen's-T formula for :math:`\Phi_2(h, k; \rho)` and its cancellation scale.

    .. math::

        \Phi_2 = \tfrac12\Phi(h) + \tfrac12\Phi(k) - T(h, a_h) - T(k, a_k)
        - \tfrac12\,\mathbb 1[hk < 0], \qquad
        a_h = \frac{k - \rho h}{h\sqrt{1-\rho^2}},

    with :math:`\Phi_2(0, k; \rho) = \tfrac12\Phi(k) - T(k, -\rho/\sqrt{1-\rho^2})`
    and :math:`\Phi_2(0, 0; \rho) = \tfrac14 + \arcsin(\rho)/(2\pi)`. Returns the
    value and the largest term, whose ratio bounds the cancellation.
    """
    s = np.sqrt(1.0 - rho * rho)
    hz = h == 0
    kz = k == 0
    hh = np.where(hz, 1.0, h)
    kk = np.where(kz, 1.0, k)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        th = owens_t(hh, (k - rho * h) / (hh * s))
        tk = owens_t(kk, (h - rho * k) / (kk * s))
    half_h = 0.5 * ndtr(h)
    half_k = 0.5 * ndtr(k)
    beta = np.where(~hz & ~kz & ((h < 0) != (k < 0)), 0.5, 0.0)
    value = np.where(hz, 0.0, half_h - th) + np.where(kz, 0.0, half_k - tk) - beta
    value = np.where(hz & kz, 0.25 + np.arcsin(rho) / (2 * np.pi), value)
    scale = np.maximum.reduce([half_h, half_k, np.abs(th), np.abs(tk), beta])
    return value, scale


def _phi2_tail(k1, k2, rho, n_newton=12):
    r"""Log of :math:`\Phi_2` and its derivatives by a 1-D integral, for the tails.

    Integrating along the coordinate whose constraint binds more strongly
    (say :math:`x \le k_1`) and measuring the integrand from its value
    :math:`A_1 = \varphi(k_1)\Phi(w_1)` at the end point,
    :math:`w_1 = (k_2 - \rho k_1)/\sqrt{1 - \rho^2}`,

    .. math::

        \Phi_2 = A_1 \int_0^\infty e^{\lambda(y)}\,dy, \qquad
        \lambda(y) = k_1 y - \tfrac{y^2}2 + \log\frac{\Phi(w_1 + cy)}{\Phi(w_1)},
        \qquad c = \frac{\rho}{\sqrt{1-\rho^2}}.

    :math:`\lambda` is concave with curvature in :math:`[1, 1/(1-\rho^2)]`:
    and :math:`\lambda''` is monotone, so Newton's method from :math:`y = 0`
    converges to its maximum on :math:`y \ge 0`; the curvature
    bound gives an interval outside which :math:`e^\lambda < e^{-40}`
    times its maximum, and Gauss-Legendre integrates it. Every quantity is
    of order one (no :math:`k^2` is ever subtracted from another), so
    :math:`\log\Phi_2` and :math:`\partial_{k_a}\log\Phi_2 = A_a/\Phi_2`
    keep full relative precision for any :math:`k`.
    Returns ``(log_phi2, d1, d2, density_ratio)`` with
    ``density_ratio`` :math:`= \varphi_2(k_1, k_2; \rho)/\Phi_2`.
    """
    s = np.sqrt(1.0 - rho * rho)
    c = rho / s
    w1 = (k2 - rho * k1) / s
    w2 = (k1 - rho * k2) / s
    slope1 = k1 + c * mills(w1)
    slope2 = k2 + c * mills(w2)
    swap = slope2 < slope1
    a = np.where(swap, k2, k1)
    wa = np.where(swap, w2, w1)
    wb = np.where(swap, w1, w2)

    # Maximum of lambda on y >= 0: at y = 0 where lambda'(0) <= 0 (the usual
    # case in the tails), else by Newton's method from y = 0.
    y0 = np.zeros_like(a)
    g = np.minimum(slope1, slope2)  # lambda'(0)
    inner = g > 0
    if np.any(inner):
        ai, wi, ci = a[inner], wa[inner], c[inner]
        yi = np.zeros_like(ai)
        for _ in range(n_newton + 1):
            z = wi + ci * yi
            m = mills(z)
            gi = ai - yi + ci * m
            yi = np.maximum(yi + gi / (1.0 + ci * ci * m * mills_excess(z, m)), 0.0)
        y0[inner] = yi
        g[inner] = ai - yi + ci * mills(wi + ci * yi)
    # lambda(y0 + u) <= lambda(y0) + g u - u^2/2 < lambda(y0) - 40 beyond these
    big = np.hypot(g, np.sqrt(80.0)) + np.abs(g)
    small = 80.0 / big
    right = np.where(g >= 0, big, small)
    left = np.where(g <= 0, big, small)
    lo = np.maximum(y0 - left, 0.0)
    hi = y0 + right

    n_nodes = int(np.ceil(32.0 / np.min(s, initial=1.0)))
    x, wts = gauss_legendre(n_nodes, 0.0, 1.0)
    y = lo[..., None] + (hi - lo)[..., None] * x
    lam = a[..., None] * y - 0.5 * y * y + _log_ndtr_diff(wa[..., None], c[..., None] * y)
    lam_max = np.max(lam, axis=-1)
    log_i = lam_max + np.log((hi - lo) * np.sum(wts * np.exp(lam - lam_max[..., None]), axis=-1))

    log_phi2 = -0.5 * a * a - _LOG_SQRT_2PI + log_ndtr(wa) + log_i
    da = np.exp(-log_i)
    log_ma = _log_inv_mills(wa)
    db = np.exp(_log_inv_mills(wb) - log_ma - log_i)
    density = np.exp(-log_i - np.log(s) - log_ma)
    return log_phi2, np.where(swap, db, da), np.where(swap, da, db), density


def _log_phi2_and_grad(k1, k2, rho):
    r"""Unchecked core of :func:`log_z_and_gradient` on broadcast float arrays.

    Returns ``(log_phi2, d1, d2, density_ratio)``. Margins are clipped to
    :math:`|k| \le 10^{150}` so that :math:`k^2` stays finite (beyond,
    :math:`\Phi_2` is 0, 1 or a single :math:`\Phi` to all digits).
    """
    k1 = np.clip(k1, -_K_MAX, _K_MAX)
    k2 = np.clip(k2, -_K_MAX, _K_MAX)
    with np.errstate(over="ignore"):  # exp() of large positive intermediates only
        return _log_phi2_and_grad_core(k1, k2, rho)


def _log_phi2_and_grad_core(k1, k2, rho):
    k1, k2, rho = np.broadcast_arrays(k1, k2, rho)
    value, scale = _phi2_owen(k1, k2, rho)
    tail = ~(value > _OWEN_CANCELLATION * scale)
    with np.errstate(divide="ignore"):
        log_p = np.log(np.where(tail, 1.0, value))
    s = np.sqrt(1.0 - rho * rho)
    w1 = (k2 - rho * k1) / s
    w2 = (k1 - rho * k2) / s
    d1 = np.exp(-0.5 * k1 * k1 - _LOG_SQRT_2PI + log_ndtr(w1) - log_p)
    d2 = np.exp(-0.5 * k2 * k2 - _LOG_SQRT_2PI + log_ndtr(w2) - log_p)
    # phi_2 = phi(k1) phi(w1) / s: the exponent k1^2 + w1^2 never forms inf - inf.
    density = np.exp(-0.5 * (k1 * k1 + w1 * w1) - 2 * _LOG_SQRT_2PI - np.log(s) - log_p)
    if np.any(tail):
        out = _phi2_tail(k1[tail], k2[tail], rho[tail])
        for arr, val in zip((log_p, d1, d2, density), out):
            arr[tail] = val
    return log_p, d1, d2, density


def _check_gamma(gamma):
    return check_in_range(gamma, "gamma", -1.0, 1.0, low_open=True, high_open=True)


def bivariate_normal_cdf(k1, k2, gamma):
    r"""Bivariate normal CDF :math:`\Phi_2(k_1, k_2; \gamma)` with unit variances.

    Parameters
    ----------
    k1, k2 : array_like
        Upper limits, broadcast together.
    gamma : array_like
        Correlation, in :math:`(-1, 1)`.

    Returns
    -------
    ndarray
        :math:`P(X_1 < k_1, X_2 < k_2)` for standard normals of correlation
        :math:`\gamma`.

    Notes
    -----
    Owen's formula [2]_ with ``scipy.special.owens_t`` (``k = 0`` treated
    apart, :math:`\Phi_2(0, 0; \gamma) = \tfrac14 + \arcsin\gamma/(2\pi)`)
    wherever its terms cancel by less than a factor :math:`10^2` (relative
    error :math:`\lesssim 10^{-11}`, from ``owens_t``); elsewhere (lower tails,
    :math:`\Phi_2 \lesssim 10^{-2}\max_a\Phi(k_a)`) a 1-D integral in log
    space (see ``_phi2_tail``), which keeps :math:`\sim 10^{-13}` relative
    accuracy down to the smallest representable values, and
    :func:`log_z_and_gradient` beyond (checked against 50-digit ``mpmath``
    down to :math:`\log\Phi_2 \approx -7\times10^4`). Its node count
    grows like :math:`1/\sqrt{1-\gamma^2}`.
    """
    k1 = as_float_array(k1, "k1")
    k2 = as_float_array(k2, "k2")
    gamma = _check_gamma(gamma)
    k1, k2, gamma = np.broadcast_arrays(k1, k2, gamma)
    value, scale = _phi2_owen(k1, k2, gamma)
    tail = ~(value > _OWEN_CANCELLATION * scale)
    if np.any(tail):
        value = value.copy()
        value[tail] = np.exp(_phi2_tail(k1[tail], k2[tail], gamma[tail])[0])
    return value


def log_z_and_gradient(k1, k2, gamma, derivative="exact"):
    r""":math:`\log\Phi_2(k_1, k_2; \gamma)` and its two partial derivatives.

    Parameters
    ----------
    k1, k2 : array_like
        Broadcast together.
    gamma : array_like
        Correlation in :math:`(-1, 1)`.
    derivative : {"exact", "released"}
        ``"exact"``: :math:`\partial_{k_1}\log\Phi_2 = \varphi(k_1)
        \Phi\big((k_2 - \gamma k_1)/\sqrt{1-\gamma^2}\big)/\Phi_2` and
        likewise for :math:`k_2`. ``"released"``: both entries are
        :math:`\varphi_2(k_1, k_2; \gamma)/\Phi_2`, as in the code released
        with [1]_. **This is wrong** (it is not a derivative of
        :math:`\log\Phi_2`) and is kept only to reproduce published curves.

    Returns
    -------
    log_phi2, d1, d2 : ndarray
        Finite for all finite inputs with :math:`|k| \lesssim 10^{150}`
        (``d`` grows like :math:`|k|` where a constraint is violated).
    """
    check_choice(derivative, "derivative", DERIVATIVES)
    k1 = as_float_array(k1, "k1")
    k2 = as_float_array(k2, "k2")
    gamma = _check_gamma(gamma)
    log_p, d1, d2, density = _log_phi2_and_grad(k1, k2, gamma)
    if derivative == "released":
        return log_p, density, density.copy()
    return log_p, d1, d2


# ---------------------------------------------------------------- the channel
def sample_labels(h):
    r"""Hardmax labels of indices ``h`` of shape (n, 2, 2): one-hot rows at the argmax.

    ``y[m, a, b] = 1`` if row ``a`` of ``h[m]`` is largest at ``b`` (ties,
    of probability zero, go to the first token).
    """
    h = as_float_array(h, "h")
    if h.ndim != 3 or h.shape[1:] != (2, 2):
        raise ValueError(f"h must have shape (n, 2, 2), got {h.shape}")
    return (np.argmax(h, axis=-1)[..., None] == np.arange(2)).astype(float)


def check_labels(y):
    """Return ``y`` as a float array of one-hot rows, shape (n, 2, 2), or raise ``ValueError``."""
    y = as_float_array(y, "y")
    if y.ndim != 3 or y.shape[1:] != (2, 2):
        raise ValueError(f"hardmax labels must have shape (n, 2, 2), got {y.shape}")
    if not np.all((y == 0.0) | (y == 1.0)):
        raise ValueError("hardmax labels must be 0 or 1")
    if not np.all(y.sum(axis=-1) == 1.0):
        raise ValueError("each row of a hardmax label must contain exactly one 1")
    return y


def _signs_and_margins(y, omega, V):
    y = check_labels(y)
    omega = as_float_array(omega, "omega")
    if omega.shape != y.shape:
        raise ValueError(f"omega must have the shape of y, {y.shape}, got {omega.shape}")
    V = check_positive(V, "V")
    if V.ndim > 1 or V.size not in (1, y.shape[0]):
        raise ValueError(f"V must be a scalar or have shape ({y.shape[0]},), got {V.shape}")
    scale = np.sqrt(3.0 * V)
    s1 = np.where(y[:, 0, 0] == 1.0, 1.0, -1.0)
    s2 = np.where(y[:, 1, 1] == 1.0, 1.0, -1.0)
    k1 = s1 * (omega[:, 0, 0] - omega[:, 0, 1]) / scale
    k2 = s2 * (omega[:, 1, 1] - omega[:, 0, 1]) / scale
    return y.shape, s1, s2, k1, k2, scale


def log_z_out(y, omega, V):
    r""":math:`\log Z_{\rm out}(y; \omega, V) = \log\Phi_2(k_1, k_2; s_1s_2/3)`, shape (n,).

    Arguments as in :func:`g_out`; only the entries :math:`a \le b` of
    ``omega`` are read.
    """
    _, s1, s2, k1, k2, _ = _signs_and_margins(y, omega, V)
    return _log_phi2_and_grad(k1, k2, s1 * s2 * _GAMMA)[0]


def g_out(y, omega, V, derivative="exact"):
    r"""Output function :math:`g = \nabla_\omega\log Z_{\rm out}` of the hardmax channel.

    Parameters
    ----------
    y : array_like, shape (n, 2, 2)
        One-hot labels (:func:`check_labels`).
    omega : array_like, shape (n, 2, 2)
        Mean of the belief on :math:`h`; only the entries :math:`a \le b`
        are read (``omega[:, 0, 1]`` is :math:`\omega_{12}`).
    V : array_like
        Variance scale, ``> 0``; a scalar or shape (n,). The belief on the
        independent entries has covariance :math:`VK`.
    derivative : {"exact", "released"}
        See :func:`log_z_and_gradient`; ``"released"`` is the (wrong)
        formula of the published code.

    Returns
    -------
    G : ndarray, shape (n, 2, 2)
        Symmetric: ``G[:, a, a]`` :math:`= \partial\log Z/\partial\omega_{aa}
        = p_a` and ``G[:, 0, 1] = G[:, 1, 0]`` :math:`=
        \partial\log Z/\partial\omega_{12} = -(p_1 + p_2)`, with
        :math:`p_a = s_a\,\partial_{k_a}\log\Phi_2/\sqrt{3V}`. Finite for any
        finite ``omega``, also for labels violated by a huge margin.
    """
    check_choice(derivative, "derivative", DERIVATIVES)
    shape, s1, s2, k1, k2, scale = _signs_and_margins(y, omega, V)
    _, d1, d2, density = _log_phi2_and_grad(k1, k2, s1 * s2 * _GAMMA)
    if derivative == "released":
        d1 = d2 = density
    p1 = s1 * d1 / scale
    p2 = s2 * d2 / scale
    G = np.empty(shape)
    G[:, 0, 0] = p1
    G[:, 1, 1] = p2
    G[:, 0, 1] = G[:, 1, 0] = -(p1 + p2)
    return G


# ----------------------------------------------------------- state evolution
def _se_integrand(t1, t2, derivative):
    r"""Half-symmetrised integrand of :math:`H`.

    :math:`\tfrac23[\mathcal T(t_1, t_2, \tfrac13) + \mathcal T(t_1, -t_2, -\tfrac13)]`, with
    :math:`\mathcal T = \Phi_2\,(3d_1^2 + 3d_2^2 + 6\gamma d_1d_2)` (exact) or
    :math:`(6 + 6\gamma)\,\varphi_2^2/\Phi_2` (released). Its average over a
    centred Gaussian equals that of the fully symmetrised integrand of
    :math:`H` (the map :math:`t \to -t` swaps the other two sign patterns in).
    """
    total = 0.0
    for sign in (1.0, -1.0):
        gamma = sign * _GAMMA
        log_p, d1, d2, density = _log_phi2_and_grad(t1, sign * t2, gamma)
        p = np.exp(log_p)  # 0 where Phi_2 underflows: d1, d2 stay finite, no 0 * inf
        if derivative == "exact":
            total = total + p * (3 * d1 * d1 + 3 * d2 * d2 + 6 * gamma * d1 * d2)
        else:
            total = total + (6 + 6 * gamma) * p * density * density
    return (2.0 / 3.0) * total


def _strip(t):
    r""":math:`f_1(t) = \varphi(t)^2/(\Phi(t)\Phi(-t))`, the integrand of H along a strip."""
    t = np.abs(t)
    e = erfcx(t / _SQRT2)
    two_sided_mills = np.sqrt(2 / np.pi) / (e * (1.0 - 0.5 * e * np.exp(-0.5 * t * t)))
    return np.exp(-0.5 * t * t - _LOG_SQRT_2PI) * two_sided_mills


def _strip_average(r, n=200, half_width=12.0):
    r""":math:`\mathbb E_{t\sim\mathcal N(0, r)} f_1(t) = \mathbb E_{a\sim\mathcal N(0, \tau^2)}
    \big[\tfrac{\varphi(a)}{\Phi(a)\Phi(-a)}\big]/\sqrt{2\pi(1 + r)}`, :math:`\tau^2 = r/(1+r)`."""
    r = np.asarray(r, dtype=float)[..., None]
    tau = np.sqrt(r / (1.0 + r))
    x, w = gauss_legendre(n, -half_width, half_width)
    a = tau * x
    mills2 = _strip(a) * np.exp(0.5 * a * a + _LOG_SQRT_2PI)
    gauss = np.exp(-0.5 * x * x - _LOG_SQRT_2PI)
    return np.sum(w * gauss * mills2, axis=-1) / np.sqrt(2 * np.pi * (1.0 + r[..., 0]))


_C_INV = np.array([[1.0, -_GAMMA], [-_GAMMA, 1.0]]) / (1.0 - _GAMMA**2)
_SQRT_DET_C = np.sqrt(1.0 - _GAMMA**2)


@lru_cache(maxsize=4)
def _box(derivative, n=100, half_width=10.0):
    """Remainder integrand on a fixed Gauss-Legendre box (cached; independent of r).

    Returns ``(weights * remainder, quadratic form t^T C^{-1} t)`` flattened.
    """
    x, w = gauss_legendre(n, -half_width, half_width)
    t1, t2 = np.meshgrid(x, x, indexing="ij")
    f = _se_integrand(t1, t2, derivative)
    if derivative == "exact":
        f1 = _strip(x)
        f = f - f1[:, None] - f1[None, :]
    quad_form = _C_INV[0, 0] * t1 * t1 + 2 * _C_INV[0, 1] * t1 * t2 + _C_INV[1, 1] * t2 * t2
    wf = (w[:, None] * w[None, :] * f).ravel()
    wf.setflags(write=False)
    quad_form = quad_form.ravel()
    quad_form.setflags(write=False)
    return wf, quad_form


def _h_small_r(r, derivative, n=40):
    r""":math:`H(r)` by tensor Gauss-Hermite in whitened coordinates (small ``r``)."""
    z, w = gauss_hermite(n)
    z1, z2 = np.meshgrid(z, z, indexing="ij")
    ww = (w[:, None] * w[None, :]).ravel()
    chol = np.linalg.cholesky(np.array([[1.0, _GAMMA], [_GAMMA, 1.0]]))
    e1 = (chol[0, 0] * z1).ravel()
    e2 = (chol[1, 0] * z1 + chol[1, 1] * z2).ravel()
    sr = np.sqrt(np.asarray(r, dtype=float))[..., None]
    return np.sum(ww * _se_integrand(sr * e1, sr * e2, derivative), axis=-1)


def _h_large_r(r, derivative):
    r""":math:`H(r)` for large ``r``, as strips plus a localised remainder.

    :math:`H(r) = 2\,\mathbb E_{\mathcal N(0,r)} f_1 + \mathbb E_{\mathcal N(0,rC)} R`, where
    :math:`R = f - f_1(t_1) - f_1(t_2)` is localised (Gaussian decay in every
    direction), so a fixed box of Gauss-Legendre nodes integrates it for
    every ``r``; only the Gaussian weight changes.
    """
    r = np.asarray(r, dtype=float)
    wf, quad_form = _box(derivative)
    flat = r.ravel()
    remainder = np.empty(flat.shape)
    for start in range(0, flat.size, 64):  # chunks bound the (len(r), nodes) temporary
        chunk = flat[start : start + 64, None]
        remainder[start : start + 64] = np.exp(-0.5 * quad_form / chunk) @ wf
    remainder = remainder.reshape(r.shape) / (2 * np.pi * r * _SQRT_DET_C)
    if derivative == "exact":
        return 2.0 * _strip_average(r) + remainder
    return remainder


_R_SPLIT = 1.0


def _h_quadrature(r, derivative="exact"):
    """:math:`H(r)` by direct quadrature, ``r >= 0`` (vectorised)."""
    r = np.asarray(r, dtype=float)
    out = np.empty(r.shape)
    small = r <= _R_SPLIT
    if np.any(small):
        out[small] = _h_small_r(r[small], derivative)
    if np.any(~small):
        out[~small] = _h_large_r(r[~small], derivative)
    return out


# Tabulation: w = 1/sqrt(1 + r) maps r in [0, inf] to [1, 0]; H(r) (1 + r)^(p/2)
# is smooth in w on [0, 1] with p = 1 (exact: strips give H ~ c/sqrt(r)) or
# p = 2 (released: no strips, H ~ D/r).
_POWER = {"exact": 1, "released": 2}
_TABLE_DEGREE = 32


@lru_cache(maxsize=2)
def _table(derivative):
    """Chebyshev coefficients of :math:`G(w) = H(r)\\,(1+r)^{p/2}` in ``x = 2w - 1``."""
    p = _POWER[derivative]

    def g_of_x(x):
        w = 0.5 * (x + 1.0)
        return _h_quadrature(1.0 / (w * w) - 1.0, derivative) / w**p

    coef = np.polynomial.chebyshev.chebinterpolate(g_of_x, _TABLE_DEGREE)
    coef.setflags(write=False)
    return coef


def _check_q_v(q, V):
    q = check_nonnegative(q, "q")
    V = check_positive(V, "V")
    return np.broadcast_arrays(q, V)


def fisher(q, V, derivative="exact"):
    r"""State-evolution average :math:`F(q, V) = \mathbb E_{\xi, y}[g^\top K g]`.

    Parameters
    ----------
    q : array_like
        Overlap, ``>= 0``.
    V : array_like
        Variance, ``> 0``; broadcast against ``q``.
    derivative : {"exact", "released"}
        ``"released"`` averages the (wrong) released-code output function.

    Returns
    -------
    ndarray
        :math:`F = H(q/V)/V`; :math:`\hat q = 2\alpha F` in the state
        evolution of [1]_.

    Notes
    -----
    :math:`H(r)` is computed once per ``derivative`` (about 0.1 s) by
    quadrature and stored as a degree-32 Chebyshev series of
    :math:`G(w) = H(r)(1 + r)^{p/2}` in :math:`w = (1 + r)^{-1/2} \in [0, 1]`,
    which covers :math:`0 \le r \le \infty` with the asymptote built in:

    * exact, :math:`p = 1`: along the strips :math:`|t_a| \lesssim 8` the
      integrand tends to the sign-channel form :math:`f_1(t) =
      \varphi^2/(\Phi(t)\Phi(-t))`, so :math:`H(r) = c/\sqrt r + D/r +
      O(r^{-3/2})`,
      :math:`c = 2\,\mathbb E_{\mathcal N(0,1)}[\varphi/(\Phi\Phi(-\cdot))]/\sqrt{2\pi}
      = 1.44129433903`, :math:`D = -0.0621209261`, and
      :math:`F \to c/\sqrt{qV}` as :math:`V \to 0` (two sign channels,
      one per row);
    * released, :math:`p = 2`: :math:`\varphi_2` vanishes along the strips,
      :math:`H(r) = 1.12189998674/r + O(r^{-2})` and :math:`F` saturates at
      :math:`1.1219/q` as :math:`V \to 0`.

    Table and quadrature agree to :math:`3\times10^{-14}` (relative) for
    :math:`0 \le r \le 10^{14}`; the quadrature agrees to
    :math:`4\times10^{-14}` with a brute-force sinh-mapped 2-D rule.

    The quadrature (:func:`fisher_quadrature`): tensor Gauss-Hermite in
    whitened coordinates for :math:`r \le 1`; for :math:`r > 1`, the strip
    part :math:`2\mathbb E f_1` in 1-D plus the localised remainder
    :math:`f - f_1(t_1) - f_1(t_2)` on a fixed Gauss-Legendre box.
    """
    check_choice(derivative, "derivative", DERIVATIVES)
    q, V = _check_q_v(q, V)
    w = np.sqrt(V / (V + q))
    g = np.polynomial.chebyshev.chebval(2.0 * w - 1.0, _table(derivative))
    if derivative == "exact":
        return g / np.sqrt(V * (V + q))
    return g / (V + q)


def fisher_quadrature(q, V, derivative="exact"):
    """:func:`fisher` by direct quadrature, without the table (slow; for checks)."""
    check_choice(derivative, "derivative", DERIVATIVES)
    q, V = _check_q_v(q, V)
    return _h_quadrature(q / V, derivative) / V


def small_width_fisher_at_zero(derivative="exact"):
    r""":math:`E_0 = F(0, 1)`, the small-width weak-recovery threshold is :math:`1/(2E_0)`.

    In the small-width limit :math:`\bar\alpha_{WR} = 1/(2E_0)`.

    At :math:`q = 0` every :math:`k_a = 0`: with :math:`\vartheta =
    \arcsin(1/3)` and :math:`\Phi_2(0, 0; \pm\tfrac13) = \tfrac14 \pm
    \tfrac{\vartheta}{2\pi}`,

    .. math::

        E_0 = \frac{8A^2}{3}\Big[\frac{2}{\frac14 + \frac{\vartheta}{2\pi}}
        + \frac{1}{\frac14 - \frac{\vartheta}{2\pi}}\Big],

    with :math:`A = \varphi(0)\Phi(0)` (exact), hence
    :math:`\bar\alpha_{WR} = \frac{3\pi/2}{2/(\frac14 + \frac{\vartheta}{2\pi})
    + 1/(\frac14 - \frac{\vartheta}{2\pi})}`; the released code has
    :math:`A = \varphi_2(0, 0; \tfrac13)` instead, which multiplies
    :math:`\bar\alpha_{WR}` by :math:`[\varphi(0)\Phi(0)/\varphi_2(0,0;\tfrac13)]^2
    = 4\pi/9`.

    Values: exact :math:`E_0 = 1.2394318940`, :math:`\bar\alpha_{WR} =
    0.4034106290`; released :math:`E_0 = 0.8876777065`,
    :math:`\bar\alpha_{WR} = 0.5632674971`. The closed form is returned;
    :func:`fisher` at ``(0, 1)`` equals it to rounding.
    """
    check_choice(derivative, "derivative", DERIVATIVES)
    theta = np.arcsin(_GAMMA)
    a_sq = 1.0 / (8 * np.pi) if derivative == "exact" else 9.0 / (32 * np.pi**2)
    plus, minus = 0.25 + theta / (2 * np.pi), 0.25 - theta / (2 * np.pi)
    return float(8 * a_sq / 3 * (2 / plus + 1 / minus))
