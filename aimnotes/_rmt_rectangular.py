r"""Rectangular random matrices for bilinear sequence regression (BSR).

The BSR teacher and the prior side of its state evolution are

.. math::

    S = \frac{U V^\top}{\sqrt r}, \quad U \in \mathbb{R}^{d\times r},\;
    V \in \mathbb{R}^{L\times r} \text{ i.i.d. } \mathcal{N}(0, 1),
    \qquad Y = S + \sqrt{\Delta}\, Z,\; Z_{ij} \sim \mathcal{N}(0, 1),

so that :math:`\mathbb{E} S_{ij}^2 = 1`. The theory takes
:math:`d \le L`, :math:`\beta = L/d \ge 1` and :math:`\rho = r/d`; every
function here accepts any :math:`\beta > 0` and maps :math:`\beta < 1` to
:math:`1/\beta` (swapping :math:`d` and :math:`L`, with
:math:`\rho = r/\min(d, L)` unchanged). In the rescaled units
:math:`\tilde Y = Y/(dL)^{1/4}` the singular values are of order one; their
limiting *symmetrised* density :math:`\mu` (the limit of
:math:`\frac1{2d}\sum_k \delta_{\pm\sigma_k}`, mass 1 on
:math:`\mathbb{R}`) has Stieltjes transform
:math:`G(z) = \int \mu(t)/(z - t)\, dt` with
:math:`\mu(x) = \frac1\pi \operatorname{Im} G(x - i0^+)`, and
:math:`w = G(z)/z` solves the quartic :math:`\sum_{k=0}^4 a_k w^k = 0` of the
rectangular free convolution [2]_ (coefficients in :func:`_quartic`, with
:math:`\phi = \rho/\beta`, :math:`\psi = \rho`,
:math:`\eta = (1+\Delta)\sqrt\beta`, :math:`\zeta = \sqrt\beta`). At real
:math:`x` the physical root is, off the support, the real root with
:math:`dG/dx < 0` (as in :mod:`aimnotes.rmt`), and in the support the one
with the largest :math:`\operatorname{Im} G` (see ``_G``).

The rectangular rotationally invariant estimator (RIE) [2]_ keeps the
singular vectors of :math:`\tilde Y = \sum_k \sigma_k u_k v_k^\top` and
shrinks the singular values,

.. math::

    \hat s(\sigma) = \sigma - \frac{2\Delta}{\sqrt\beta}
    \Big[\operatorname{Re} G(\sigma) + \frac{\beta - 1}{2\sigma}\Big],

and its error per entry (in :math:`S` units) is [1]_ [2]_

.. math::

    \mathrm{mmse}_{\rm RIE}(\Delta) = \Delta - \frac{\Delta^2}{\sqrt\beta}
    \left[\frac{(\beta-1)^2}{\beta}\int\frac{\mu(x)}{x^2}dx
    + \frac{4\pi^2}{3\beta}\int\mu(x)^3 dx\right].

Numerics: batched ``eigvals`` of real 4 x 4 companion matrices plus a
Newton polish, branch chosen by the sign of :math:`dG/dx`; support edges
from the roots of the quartic's discriminant (a degree-5 polynomial in
:math:`x^2`), polished by Newton on the double root; on each piece
:math:`[a, b]` of the support (cut also near the complex roots of the
discriminant) the substitution
:math:`x = a + \tfrac{b-a}{2}(1 - \cos\theta)` and Gauss-Legendre in
:math:`\theta`, doubled until the MMSE moves by less than :math:`10^{-10}`.

References
----------
.. [1] V. Erba, E. Troiani, L. Biggio, A. Maillard, L. Zdeborová, "Bilinear
   sequence regression: a model for learning from long sequences of
   high-dimensional tokens", arXiv:2410.18858, Phys. Rev. X (2025).
.. [2] E. Troiani, V. Erba, F. Krzakala, A. Maillard, L. Zdeborová, "Optimal
   denoising of rotationally invariant rectangular matrices", MSML 2022,
   arXiv:2203.07752.
"""

import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.interpolate import CubicSpline

from ._validation import (
    as_float_array,
    check_noise_variance,
    check_positive_int,
    check_positive_scalar,
    scalar_or_array,
)
from .quadrature import gauss_legendre
from .solvers import ConvergenceWarning

__all__ = [
    "rectangular_stieltjes",
    "rectangular_spectral_density",
    "rectangular_hilbert_transform",
    "rectangular_spectral_support",
    "rectangular_denoising_mmse",
    "rectangular_rie",
    "rectangular_mmse_table",
    "RectangularMMSETable",
    "sample_rectangular_signal",
]

#: Density below which mu counts as zero.
_MU_THR = 1e-7
#: Least relative conditioning |P_G| |G| / sum_k |c_k G^k| of an off-support root.
_COND_MIN = 1e-6
#: Largest |Im u| / |u| of a root of the edge polynomial taken as real.
_EDGE_REAL = 1e-6
#: Most Newton steps polishing an edge (it converges in 2-4).
_EDGE_NEWTON = 8
#: First and largest Gauss-Legendre order per piece of the support.
_QUAD_N0 = 32
_QUAD_NMAX = 2048
#: Stop doubling the order once the MMSE moves by less than this...
_QUAD_TOL = 1e-10
#: ... or the integral by less than this, relative (the rounding level of mu).
_QUAD_FLOOR = 1e-12
#: Graded cuts towards a near-edge (see ``_supports``): growth factor and count.
_NECK_RATIO = 8.0
_NECK_LEVELS = 8


# ------------------------------------------------------------- validation
def _canonical_beta(beta):
    """Scalar ``beta > 0`` mapped to ``max(beta, 1/beta) >= 1``."""
    beta = check_positive_scalar(beta, "beta")
    return max(beta, 1.0 / beta)


def _check_delta_positive_scalar(delta):
    arr = check_noise_variance(delta)
    if arr.ndim != 0:
        raise ValueError("delta must be a scalar")
    if arr <= 0:
        raise ValueError(f"delta must be > 0, got {delta!r}")
    return float(arr)


# ------------------------------------------------------------- quartic
def _quartic(z, delta, beta, rho):
    """Coefficients ``(..., 5)`` (a_0..a_4) of the quartic for ``w = G/z``."""
    phi, psi = rho / beta, rho
    eta, zeta = (1.0 + delta) * np.sqrt(beta), np.sqrt(beta)
    z2 = z * z
    a0 = np.full_like(z, -psi**3)
    a1 = psi * (zeta * (psi - phi) + psi * (eta * (phi - psi) + psi * z2))
    a2 = (
        -(zeta**2) * (phi - psi) ** 2
        + zeta * (eta * (phi - psi) ** 2 + psi * z2 * (2 * phi - psi))
        - eta * psi**2 * z2 * phi
    )
    a3 = -zeta * z2 * phi * (
        2 * zeta * psi - 2 * zeta * phi - 2 * eta * psi + 2 * eta * phi + psi * z2
    )
    a4 = zeta * z2 * z2 * phi**2 * (eta - zeta)
    return np.stack([a0, a1, a2, a3, a4], axis=-1)


def _coefficients(x, delta, beta, rho):
    """Real coefficients ``(n, 5)`` of ``P(G, x) = sum_k c_k G^k`` and ``dc_k/dx``.

    ``c_k = a_k z**(2-k)`` at real ``z = x``: the quartic in ``w = G/z`` times
    ``z**2``, far better scaled at small ``x`` than the one in ``w``.
    """
    phi, psi = rho / beta, rho
    eta, zeta = (1.0 + delta) * np.sqrt(beta), np.sqrt(beta)
    z = x
    a = _quartic(z, delta, beta, rho)
    kk = 2 * (zeta - eta) * (psi - phi)
    b2 = zeta * psi * (2 * phi - psi) - eta * psi**2 * phi
    da = np.stack(
        [
            np.zeros_like(z),
            2 * psi**3 * z,
            2 * b2 * z,
            -zeta * phi * (2 * kk * z + 4 * psi * z**3),
            4 * zeta * phi**2 * (eta - zeta) * z**3,
        ],
        axis=-1,
    )
    k = np.arange(5)
    c = a * z[:, None] ** (2 - k)
    dc = da * z[:, None] ** (2 - k) + (2 - k) * a * z[:, None] ** (1 - k)
    return c, dc


def _horner(c, g):
    """``P, dP/dG, d2P/dG2`` at ``g`` (``(n, m)``) for coefficients ``c`` (``(n, 5)``)."""
    p = c[:, 4:5] * np.ones_like(g)
    dp = np.zeros_like(g)
    d2 = np.zeros_like(g)
    for k in range(3, -1, -1):
        d2 = d2 * g + 2 * dp
        dp = dp * g + p
        p = p * g + c[:, k : k + 1]
    return p, dp, d2


def _G(x, delta, beta, rho):
    """Physical G(x - i0) at real ``x`` (1-d, > 0), canonical ``beta >= 1``.

    Roots of the quartic in ``G`` (:func:`_coefficients`) by batched
    ``eigvals`` of *real* companion matrices (so roots are exactly real or
    exact conjugate pairs) and a Newton polish. Selection by the sign of the
    derivative, as in ``rmt._physical`` / ``rmt._zprime``:

    * off the support the physical root is the real one with
      ``dG/dx = -P_x/P_G < 0`` (G decreases in x there; at ``z = x - i eps`` a
      real root moves by ``-i eps dG/dx``, into the upper half-plane). Only
      well-conditioned roots count (``|P_G| |G| / sum_k |c_k G^k| >
      _COND_MIN``): for beta > 1 the quartic has a near-double root at
      ``G ~ (1 - beta)/x`` as x -> 0, whose slope is meaningless and which
      rounding (or the next order in x) splits into a conjugate pair with
      ``Im G`` up to ~1e-6 |G|. The old rule, "largest Im G at x - i eps",
      took that pair for a bulk at x < ~1e-4;
    * if no such real root exists, x is in the support (on a grid of beta,
      rho, delta no real root with dG/dx < 0 was ever found there) and the
      root with the largest Im G is taken.
    """
    x = np.asarray(x, dtype=float)
    c, dc = _coefficients(x, delta, beta, rho)
    n = x.shape[0]
    comp = np.zeros((n, 4, 4))
    comp[:, 1, 0] = comp[:, 2, 1] = comp[:, 3, 2] = 1.0
    comp[:, :, 3] = -c[:, :4] / c[:, 4:5]
    g = np.linalg.eigvals(comp).astype(complex)
    with np.errstate(all="ignore"):
        for _ in range(2):  # Newton polish, kept only where it lowers |P|
            p, dp, _ = _horner(c, g)
            g_new = g - p / dp
            p_new, _, _ = _horner(c, g_new)
            ok = np.isfinite(g_new) & (np.abs(p_new) < np.abs(p))
            g = np.where(ok, g_new, g)
        t = g.real
        dp = _horner(c, t + 0j)[1].real
        scale = np.abs(c[:, None, :] * np.abs(t)[:, :, None] ** np.arange(5)).sum(-1)
        px = _horner(dc, t + 0j)[0].real
        slope = -px / dp
        cond = np.abs(dp) * np.maximum(np.abs(t), 1e-300) / scale
    # Off the support: a well-conditioned real root with dG/dx < 0 exists (the
    # physical one); in the support none does (checked on a grid of
    # beta, rho, delta). Near-double roots (cond ~ 0) are never candidates.
    cand = (g.imag == 0) & (slope < 0) & (np.nan_to_num(cond, nan=0.0) > _COND_MIN)
    off = np.any(cand, axis=1)
    off_pick = np.argmax(np.where(cand, cond, -np.inf), axis=1)
    bulk_pick = np.argmax(g.imag, axis=1)
    pick = np.where(off, off_pick, bulk_pick)
    out = g[np.arange(n), pick]
    out = np.where(off, out.real + 0j, out)
    return out


def _evaluate_G(s, delta, beta, rho):
    s = as_float_array(s, "s")
    beta = _canonical_beta(beta)
    rho = check_positive_scalar(rho, "rho")
    delta = _check_delta_positive_scalar(delta)
    flat = np.abs(s.ravel())
    out = np.empty(flat.shape, dtype=complex)
    nz = flat > 0
    out[~nz] = np.nan
    if np.any(nz):
        out[nz] = _G(flat[nz], delta, beta, rho)
    return s, flat, out.reshape(s.shape)


def rectangular_stieltjes(s, delta, beta, rho):
    r"""Stieltjes transform :math:`G(s - i0^+)` of the symmetrised singular-value law.

    :math:`G(z) = \int \mu(t)/(z - t)\,dt` of :math:`\tilde Y = (S + \sqrt\Delta
    Z)/(dL)^{1/4}`, from the quartic of Troiani et al. [2]_ (module docstring).
    :math:`G` is odd in :math:`s`; returned for :math:`s \ne 0` (NaN at 0).

    Parameters
    ----------
    s : array_like
        Real points.
    delta : float
        Noise variance :math:`\Delta > 0`.
    beta : float
        Aspect ratio :math:`L/d > 0` (mapped to :math:`\max(\beta, 1/\beta)`).
    rho : float
        Rank ratio :math:`r/\min(d, L) > 0`.

    Returns
    -------
    complex ndarray or complex
        :math:`G` with :math:`\operatorname{Im} G \ge 0`.
    """
    s, _, g = _evaluate_G(s, delta, beta, rho)
    g = np.where(s < 0, -g.real + 1j * g.imag, g)  # mu even, Re G odd
    return scalar_or_array(g)


def rectangular_spectral_density(s, delta, beta, rho):
    r"""Symmetrised singular-value density :math:`\mu(s)` of :math:`\tilde Y`.

    :math:`\mu(s) = \frac1\pi\operatorname{Im} G(s - i0^+)`, even in :math:`s`,
    with :math:`\int_{\mathbb R}\mu = 1`,
    :math:`\int s^2\mu = (1+\Delta)\sqrt\beta` and
    :math:`\int s^4\mu = \beta/\rho + (1+\beta)(1+\Delta)^2` (:math:`\beta \ge 1`),
    the limits of :math:`\frac1d\operatorname{Tr}(\tilde Y\tilde Y^\top)^k`
    for :math:`\tilde Y = (S + \sqrt\Delta Z)/(dL)^{1/4}` [1]_ [2]_.
    Values below :math:`10^{-7}` are set to 0.

    Parameters
    ----------
    s : array_like
        Real points.
    delta, beta, rho : float
        As in :func:`rectangular_stieltjes`.

    Returns
    -------
    ndarray or float
    """
    s, flat, g = _evaluate_G(s, delta, beta, rho)
    mu = np.maximum(g.imag, 0.0) / np.pi
    mu = np.where(mu < _MU_THR, 0.0, mu)
    if np.any(flat == 0):
        mu0 = _density_at_zero(delta, _canonical_beta(beta), rho)
        mu = np.where(flat.reshape(s.shape) == 0, mu0, mu)
    return scalar_or_array(mu)


def _density_at_zero(delta, beta, rho):
    r""":math:`\mu(0)`: 0 for :math:`\beta > 1` (gapped), in closed form at :math:`\beta = 1`.

    At :math:`\beta = 1` and :math:`x \to 0` the equation for :math:`G` becomes
    :math:`\Delta G^4 + (1 - (1+\Delta)\rho) G^2 - \rho = 0`, whose root with
    :math:`G^2 < 0` is :math:`G(0) = i\pi\mu(0)`. (The root solve itself
    degrades at :math:`x \lesssim 10^{-7}` for large :math:`\Delta`.)
    """
    if beta > 1:
        return 0.0
    b = 1.0 - (1.0 + delta) * rho
    root = np.sqrt(b * b + 4.0 * delta * rho)
    # -G(0)^2 = (b + root) / (2 delta), written without cancellation for b < 0
    minus_g2 = (b + root) / (2.0 * delta) if b >= 0 else 2.0 * rho / (root - b)
    return np.sqrt(minus_g2) / np.pi


def rectangular_hilbert_transform(s, delta, beta, rho):
    r"""Hilbert transform :math:`\operatorname{Re} G(s)`, odd in :math:`s`.

    See :func:`rectangular_stieltjes`.
    """
    return scalar_or_array(np.real(rectangular_stieltjes(s, delta, beta, rho)))


# ------------------------------------------------------------- support
def _xmax(delta, beta, rho):
    """Upper bound on the support: ||S~|| + sqrt(delta) ||Z~|| with margin."""
    s_norm = (1 + np.sqrt(rho)) * (np.sqrt(beta) + np.sqrt(rho)) / (np.sqrt(rho) * beta**0.25)
    z_norm = beta**-0.25 + beta**0.25
    return 1.2 * (s_norm + np.sqrt(delta) * z_norm) + 0.1


def _G_rows(x, delta, beta, rho):
    """:func:`_G` at points ``x`` (any shape), ``delta`` broadcast against ``x``.

    The quartic's coefficients are elementwise in ``delta``, so points with
    different noises share one batched root solve.
    """
    delta = np.broadcast_to(delta, x.shape).ravel()
    return _G(x.ravel(), delta, beta, rho).reshape(x.shape)


def _polymul(p, q):
    """Products of polynomials stored as ascending coefficients on the last axis.

    ``numpy.polynomial`` multiplies one pair at a time; here every noise (and
    every term of the discriminant) has its own pair, so the convolution
    runs over the (small) degree instead.
    """
    shape = np.broadcast_shapes(p.shape[:-1], q.shape[:-1])
    out = np.zeros(shape + (p.shape[-1] + q.shape[-1] - 1,))
    for i in range(p.shape[-1]):
        out[..., i : i + q.shape[-1]] += p[..., i : i + 1] * q
    return out


#: The discriminant of ``sum_i A_i w^i`` (quartic) as ``sum_t k_t * prod_j A_{i_tj}``:
#: the weights ``k_t`` and the six indices of each term.
_DISCRIMINANT_WEIGHTS = np.array(
    [256, -192, -128, 144, -27, 144, -6, -80, 18, 16, -4, -27, 18, -4, -4, 1])
_DISCRIMINANT_INDICES = np.array([
    (4, 4, 4, 0, 0, 0), (4, 4, 3, 1, 0, 0), (4, 4, 2, 2, 0, 0), (4, 4, 2, 1, 1, 0),
    (4, 4, 1, 1, 1, 1), (4, 3, 3, 2, 0, 0), (4, 3, 3, 1, 1, 0), (4, 3, 2, 2, 1, 0),
    (4, 3, 2, 1, 1, 1), (4, 2, 2, 2, 2, 0), (4, 2, 2, 2, 1, 1), (3, 3, 3, 3, 0, 0),
    (3, 3, 3, 2, 1, 0), (3, 3, 3, 1, 1, 1), (3, 3, 2, 2, 2, 0), (3, 3, 2, 2, 1, 1),
])


def _edge_polynomial(delta, beta, rho):
    """Coefficients ``(n, 6)``, ascending in ``u = x**2``, whose roots hold the edges.

    At an edge of the support two roots of the quartic in ``w`` meet, so its
    discriminant in ``w`` vanishes. With the :func:`_quartic` coefficients as
    polynomials in ``u`` (``a_0`` constant, ``a_1, a_2`` linear, ``a_3, a_4``
    quadratic) the discriminant is ``u**4`` times a polynomial of degree 5
    in ``u`` (checked symbolically), as in the paper's code [1]_. The
    factors ``eta - zeta = zeta * delta`` are formed from ``delta`` directly,
    which keeps small noises accurate.
    """
    phi, psi, zeta = rho / beta, rho, np.sqrt(beta)
    eta = (1.0 + delta) * zeta
    one, zero = np.ones_like(delta), np.zeros_like(delta)
    a = np.stack([  # (5, n, 3): a_k = a[k, :, 0] + a[k, :, 1] u + a[k, :, 2] u^2
        np.stack([-(psi**3) * one, zero, zero], axis=-1),
        np.stack([psi * (zeta - eta * psi) * (psi - phi), psi**3 * one, zero], axis=-1),
        np.stack([zeta**2 * delta * (phi - psi) ** 2,
                  zeta * psi * (2 * phi - psi) - eta * psi**2 * phi, zero], axis=-1),
        np.stack([zero, 2 * zeta**2 * phi * delta * (psi - phi), -zeta * phi * psi * one],
                 axis=-1),
        np.stack([zero, zero, zeta**2 * phi**2 * delta], axis=-1),
    ])
    i = _DISCRIMINANT_INDICES.T
    left = _polymul(_polymul(a[i[0]], a[i[1]]), a[i[2]])  # (16, n, 7)
    right = _polymul(_polymul(a[i[3]], a[i[4]]), a[i[5]])
    disc = np.tensordot(_DISCRIMINANT_WEIGHTS, _polymul(left, right), axes=1)  # (n, 13)
    return disc[:, 4:10]


def _polish_edges(x, delta, beta, rho, window=None):
    """Newton on ``P(G, x) = dP/dG(G, x) = 0`` from the edge guesses ``x`` (1-d).

    An edge is a double root ``G`` of the quartic (:func:`_coefficients`);
    the 2 x 2 system is regular there (square-root edges), so Newton
    converges quadratically from the discriminant's roots, whose accuracy
    is limited by cancellations in the discriminant's coefficients (to
    ~4e-4 relative at beta = 1000, rho = 1, delta = 1e-6). Returns the edges
    and the double roots ``G`` there (the physical ``G`` at an edge, where
    the root selection of :func:`_G` is ill-conditioned). A guess whose
    iteration does not settle (last step above 1e-8 relative; rounding
    stalls it near 1e-10 at small ``x``) or moves farther than ``window``
    (default 1% of ``x``) is returned unchanged, with ``G`` NaN.
    """
    window = 1e-2 * x if window is None else window
    c, _ = _coefficients(x, delta, beta, rho)
    comp = np.zeros((x.size, 4, 4))
    comp[:, 1, 0] = comp[:, 2, 1] = comp[:, 3, 2] = 1.0
    comp[:, :, 3] = -c[:, :4] / c[:, 4:5]
    g = np.linalg.eigvals(comp)
    gap = np.abs(g[:, :, None] - g[:, None, :])
    gap[:, np.arange(4), np.arange(4)] = np.inf
    pair = np.argmin(gap.reshape(x.size, 16), axis=1)
    rows = np.arange(x.size)
    G = 0.5 * (g[rows, pair // 4] + g[rows, pair % 4]).real  # the pair about to meet
    xn = x.copy()
    with np.errstate(all="ignore"):
        for _ in range(_EDGE_NEWTON):
            c, dc = _coefficients(xn, delta, beta, rho)
            p, p_g, p_gg = (v[:, 0].real for v in _horner(c, G[:, None] + 0j))
            p_x, p_gx, _ = (v[:, 0].real for v in _horner(dc, G[:, None] + 0j))
            det = p_g * p_gx - p_x * p_gg
            step_x = (p_g * p_g - p * p_gg) / det
            G = G - (p * p_gx - p_x * p_g) / det
            xn = xn - step_x
            if np.all(np.abs(step_x) <= 1e-14 * xn):
                break
        ok = np.isfinite(xn) & (np.abs(step_x) <= 1e-8 * xn) & (np.abs(xn - x) <= window)
    return np.where(ok, xn, x), np.where(ok, G, np.nan)


def _supports(delta, beta, rho, pieces=False):
    """Bulks of mu on x >= 0 for each noise in the 1-d array ``delta``, canonical beta.

    Returns ``(owner, a, b)``: bulk ``k`` is ``[a[k], b[k]]`` and belongs to
    ``delta[owner[k]]``. The edges are the square roots of the positive real
    roots of the edge polynomial (:func:`_edge_polynomial`; one batched
    ``eigvals`` of 5 x 5 companion matrices for all noises), polished by
    :func:`_polish_edges`; the intervals between consecutive candidates
    are then sorted into bulks and gaps by the density at their midpoints.
    (A candidate inside a bulk, such as a meeting of two unphysical roots,
    only splits it.) With ``pieces=True`` the bulks are also cut near every
    complex pair of roots ``x = c +- i s``, a near-edge of width ``s``: just
    after two bulks merge, the two inner edges become such a pair and mark
    the narrow neck of the density; at rho = 1 a pair near the lower edge
    marks a sharp peak. The cuts at ``c`` and ``c +- s 8^j`` (while
    ``s 8^j < c``) let the quadrature resolve the feature on its own scale
    with few nodes. The pieces are returned in the same form.
    """
    n = delta.size
    q = _edge_polynomial(delta, beta, rho)
    comp = np.zeros((n, 5, 5))
    comp[:, np.arange(1, 5), np.arange(4)] = 1.0
    comp[:, :, 4] = -q[:, :5] / q[:, 5:]
    u = np.linalg.eigvals(comp).astype(complex)  # real dtype when all roots are real
    # At beta = 1 the polynomial has a double root u = 0 (not an edge).
    valid = (u.real > 0) & (np.abs(u) > 1e-12 * np.abs(u).max(axis=1, keepdims=True))
    real = valid & (np.abs(u.imag) <= _EDGE_REAL * np.abs(u))
    # Two close real roots (a narrow gap) may come back as a near-real complex
    # pair: start its members on either side, at u +- |Im u|.
    start = np.sqrt(np.where(real, u.real + u.imag, np.nan))
    spacing = np.abs(start[:, :, None] - start[:, None, :])
    spacing[:, np.arange(5), np.arange(5)] = np.inf
    nearest = np.where(np.isnan(spacing), np.inf, spacing).min(axis=2)
    row, col = np.nonzero(real)
    edges = np.full(u.shape, np.nan)
    edges[row, col] = _polish_edges(
        start[row, col], delta[row], beta, rho,
        window=np.minimum(1e-2 * start[row, col], 0.5 * nearest[row, col]))[0]
    far = np.fmax(_xmax(delta, beta, rho), 1.01 * np.nanmax(edges, axis=1, initial=0.0))
    near_edge = valid & ~real & (u.imag > 0) & pieces
    root = np.sqrt(u[..., None])
    c, width = root.real, np.abs(root.imag) * _NECK_RATIO ** np.arange(_NECK_LEVELS)
    grade = np.concatenate([c, c - width, c + width], axis=-1)
    keep = near_edge[..., None] & (np.concatenate([0 * c, width, width], axis=-1) < c)
    cuts = np.where(keep & (grade < far[:, None, None]), grade, np.nan).reshape(n, -1)
    pts = np.sort(np.concatenate([np.zeros((n, 1)), edges, cuts, far[:, None]], axis=1), axis=1)
    lo, hi = pts[:, :-1], pts[:, 1:]
    row, col = np.nonzero(hi > lo)  # NaNs (sorted last) and repeated points drop out
    lo, hi = lo[row, col], hi[row, col]
    inside = _G_rows(0.5 * (lo + hi), delta[row], beta, rho).imag / np.pi > _MU_THR
    if np.any(inside & (hi == far[row])):
        raise RuntimeError("support extends beyond the last edge candidate")
    if not np.all(np.isin(np.arange(n), row[inside])):
        raise RuntimeError("no support found; the density solver failed")
    if not pieces:  # merge consecutive pieces of one bulk
        same = row[1:] == row[:-1]
        first = inside & ~np.concatenate([[False], same & inside[:-1]])
        last = inside & ~np.concatenate([same & inside[1:], [False]])
        return row[first], lo[first], hi[last]
    return row[inside], lo[inside], hi[inside]


def _support(delta, beta, rho):
    """Bulks ``[(a, b), ...]`` of mu on x >= 0 for one noise, canonical beta."""
    _, a, b = _supports(np.array([float(delta)]), beta, rho)
    return list(zip(a.tolist(), b.tolist()))


def rectangular_spectral_support(delta, beta, rho):
    r"""Support of :math:`\mu` on :math:`s \ge 0` as an ``(m, 2)`` array of bulks.

    For :math:`\beta > 1` the support is gapped away from 0; at
    :math:`\beta = 1` it starts at 0. The edges are where two roots of the
    quartic for :math:`G` meet: roots of its discriminant, a polynomial of
    degree 5 in :math:`s^2`, polished by Newton's method on the double root
    (to ~1e-10 relative or better). Bulks can be narrow (2% of their position at
    :math:`\beta = 1000`, :math:`\rho = 0.9`, :math:`\Delta = 10^{-5}`) and
    gaps narrower (:math:`4\cdot10^{-4}` of their position at
    :math:`\beta = 4`, :math:`\rho = 0.1`, :math:`\Delta = 6.3`): too
    narrow for a grid scan to be trusted.

    Parameters
    ----------
    delta, beta, rho : float
        As in :func:`rectangular_stieltjes`.

    Returns
    -------
    ndarray, shape (m, 2)
    """
    beta = _canonical_beta(beta)
    rho = check_positive_scalar(rho, "rho")
    delta = _check_delta_positive_scalar(delta)
    return np.array(_support(delta, beta, rho))


# ------------------------------------------------------------- MMSE
def _mmse_values(delta, beta, rho):
    """mmse_RIE at each noise of the 1-d array ``delta`` (0 -> 0, inf -> 1).

    The bracket ``(beta-1)^2/beta int mu/x^2 + 4 pi^2/(3 beta) int mu^3``
    (integrals over R) is integrated over the support only (a spurious
    O(eps) density near 0 divided by x^2 would bias it), with Gauss-Legendre
    in theta on each piece after ``x = a + (b - a)(1 - cos theta)/2``
    (square-root edges); the order is doubled for the noises whose two
    successive rules still move the MMSE by more than ``_QUAD_TOL`` (or the
    bracket by more than ``_QUAD_FLOOR`` relative, the rounding level of mu).
    The accuracy is absolute: ``mmse / delta`` is good to about ``1e-10 / delta``.
    """
    out = np.where(delta == 0, 0.0, 1.0)
    mid = (delta > 0) & np.isfinite(delta)
    if not np.any(mid):
        return out
    dl = delta[mid]
    owner, a, b = _supports(dl, beta, rho, pieces=True)
    # A piece starting at 0 (beta = 1) is integrated over [-b, b] (mu is even)
    # with half weight: no nodes crowd at x -> 0, where the root solve degrades.
    piece_weight = np.where(a == 0, 0.5, 1.0)
    a = np.where(a == 0, -b, a)
    scale = dl**2 / np.sqrt(beta)  # d mmse / d bracket
    bracket = np.full(dl.size, np.nan)
    prev = None
    todo = np.ones(dl.size, dtype=bool)
    n = _QUAD_N0
    while True:
        sel = todo[owner]
        t, wt = gauss_legendre(n, 0.0, np.pi)
        aa, bb, own = a[sel, None], b[sel, None], owner[sel]
        x = np.abs(aa + 0.5 * (bb - aa) * (1 - np.cos(t)))
        w = wt * 0.5 * (bb - aa) * np.sin(t) * piece_weight[sel, None]
        mu = np.maximum(_G_rows(x, dl[own][:, None], beta, rho).imag, 0.0) / np.pi
        mu = np.where(mu < _MU_THR, 0.0, mu)
        integrand = 4 * np.pi**2 / (3 * beta) * mu**3
        if beta > 1:
            integrand = integrand + (beta - 1) ** 2 / beta * mu / x**2
        cur = np.zeros(dl.size)
        np.add.at(cur, own, 2 * np.sum(w * integrand, axis=1))  # 2: mu is even
        bracket[todo] = cur[todo]
        if prev is not None:
            change = np.abs(cur - prev)
            todo &= ~((scale * change <= _QUAD_TOL) | (change <= _QUAD_FLOOR * np.abs(cur)))
        if not np.any(todo):
            break
        if n >= _QUAD_NMAX:
            warnings.warn(f"rectangular MMSE quadrature not converged at order {n} for "
                          f"delta={dl[todo].tolist()}", ConvergenceWarning, stacklevel=3)
            break
        prev, n = cur, 2 * n
    out[mid] = dl - scale * bracket
    return out


def rectangular_denoising_mmse(delta, beta, rho):
    r"""MMSE per entry of rectangular denoising, achieved by the rectangular RIE.

    For :math:`Y = S + \sqrt\Delta Z` with :math:`S = UV^\top/\sqrt r`
    (:math:`\mathbb{E}S_{ij}^2 = 1`) and :math:`Z_{ij} \sim \mathcal{N}(0, 1)`,

    .. math::

        \mathrm{mmse}_{\rm RIE}(\Delta) = \lim \frac{\mathbb{E}\|\hat S - S\|_F^2}{dL}
        = \Delta - \frac{\Delta^2}{\sqrt\beta}\left[\frac{(\beta-1)^2}{\beta}
        \int\frac{\mu(x)}{x^2}dx + \frac{4\pi^2}{3\beta}\int\mu(x)^3dx\right]

    (integrals over :math:`\mathbb{R}`; [1]_ [2]_). It increases from 0 to 1,
    is at most :math:`\Delta/(1+\Delta)`, tends to :math:`\Delta/(1+\Delta)` as
    :math:`\rho\to\infty`, and :math:`\mathrm{mmse}(\Delta)/\Delta \to \alpha_s
    = \rho(1 + \beta - \rho)/\beta` (1 for :math:`\rho \ge 1`) as :math:`\Delta \to 0`.

    Parameters
    ----------
    delta : array_like
        Noise variances :math:`\Delta \ge 0` (``inf`` gives 1).
    beta : float
        Aspect ratio :math:`L/d > 0` (mapped to :math:`\max(\beta, 1/\beta)`).
    rho : float
        Rank ratio :math:`r/\min(d, L) > 0`.

    Returns
    -------
    ndarray or float
        Same shape as ``delta``. Absolute accuracy about 1e-6 or better for
        :math:`10^{-4} \le \Delta \le 10^3` (limited by the root solve near
        the edges).
    """
    delta = check_noise_variance(delta, allow_inf=True)
    beta = _canonical_beta(beta)
    rho = check_positive_scalar(rho, "rho")
    out = _mmse_values(delta.ravel().astype(float), beta, rho)
    return scalar_or_array(out.reshape(delta.shape))


# ------------------------------------------------------------- table
#: Range of log(Delta) tabulated; outside it the limits take over.
_TABLE_LOG_RANGE = (np.log(1e-6), np.log(1e4))
_TABLE_N0 = 41
_TABLE_MAX_ROUNDS = 14
#: Least node spacing in log(Delta) of the refinement.
_TABLE_MIN_STEP = 5e-3


def _counting_threshold(beta, rho):
    r"""Exact-recovery (counting) threshold :math:`\alpha_s(\beta, \rho)`, vectorised.

    The dimension of the manifold of rank-:math:`r` matrices in
    :math:`\mathbb{R}^{d\times L}` per entry, :math:`r(d + L - r)/(dL) =
    \rho(1 + \beta - \rho)/\beta` for :math:`\rho \le 1` (canonical
    :math:`\beta \ge 1`), and 1 for :math:`\rho \ge 1` [1]_. It is also the
    small-noise slope :math:`\lim_{\Delta\to0}\mathrm{mmse}_{\rm RIE}(\Delta)/\Delta`.
    """
    beta = np.asarray(beta, dtype=float)
    beta = np.maximum(beta, 1.0 / beta)
    rho = np.asarray(rho, dtype=float)
    return np.where(rho >= 1.0, 1.0, rho * (1.0 + beta - rho) / beta)


@dataclass(frozen=True)
class RectangularMMSETable:
    r"""Interpolant of :math:`\mathrm{mmse}_{\rm RIE}(\Delta)` for one :math:`(\beta, \rho)`.

    Call it with an array of noise variances. Built by
    :func:`rectangular_mmse_table`; the tabulated function is
    :math:`h(\Delta) = \mathrm{mmse}(\Delta)(1 + \Delta)/\Delta`, which lies
    near :math:`[\alpha_s, 1]`, as a cubic spline in :math:`\log\Delta`.

    Attributes
    ----------
    beta, rho : float
        Canonical aspect ratio (:math:`\ge 1`) and rank ratio.
    log_delta, h : ndarray
        Nodes and tabulated values.
    alpha_s : float
        :math:`h(0)`, the counting threshold (:func:`aimnotes.bsr.exact_recovery_threshold`).
    max_error : float
        Largest error of the interpolant at the midpoints checked in the
        last refinement (an estimate of its accuracy, in MMSE units).
    """

    beta: float
    rho: float
    log_delta: np.ndarray = field(repr=False)
    h: np.ndarray = field(repr=False)
    alpha_s: float
    max_error: float
    _spline: CubicSpline = field(repr=False, compare=False)

    def __call__(self, delta):
        r""":math:`\mathrm{mmse}_{\rm RIE}(\Delta)` at ``delta >= 0`` (``inf`` gives 1)."""
        delta = np.asarray(delta, dtype=float)
        lo, hi = self.log_delta[0], self.log_delta[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_delta = np.log(delta)
            h = self._spline(np.clip(log_delta, lo, hi))
            # Limits: h -> alpha_s linearly in Delta below the table, h -> 1 as 1/Delta above.
            h_lo, h_hi = self.h[0], self.h[-1]
            below = self.alpha_s + (h_lo - self.alpha_s) * delta / np.exp(lo)
            above = 1.0 - (1.0 - h_hi) * np.exp(hi) / delta
            h = np.where(log_delta < lo, below, np.where(log_delta > hi, above, h))
            out = h * delta / (1.0 + delta)
        return np.where(np.isinf(delta), 1.0, out)


@lru_cache(maxsize=64)
def _table(beta, rho, tol):
    lo, hi = _TABLE_LOG_RANGE
    t = np.linspace(lo, hi, _TABLE_N0)
    h = _mmse_values(np.exp(t), beta, rho) * (1 + np.exp(t)) / np.exp(t)
    # Adaptive refinement: bisect every interval whose midpoint the spline
    # misses by more than tol; the MMSE has kinks where two bulks of the
    # spectrum merge, which a uniform grid would need thousands of nodes for.
    check = np.ones(t.size - 1, dtype=bool)
    max_error = np.inf
    for _ in range(_TABLE_MAX_ROUNDS):
        spline = CubicSpline(t, h)
        left = np.flatnonzero(check)
        if left.size == 0:
            break
        t_mid = 0.5 * (t[left] + t[left + 1])
        d_mid = np.exp(t_mid)
        h_mid = _mmse_values(d_mid, beta, rho) * (1 + d_mid) / d_mid
        err = np.abs(spline(t_mid) - h_mid) * d_mid / (1 + d_mid)
        max_error = float(err.max())
        # Insert the midpoints; only the halves of the failing intervals are checked again.
        t_new = np.concatenate([t, t_mid])
        h_new = np.concatenate([h, h_mid])
        flag = np.concatenate([np.zeros(t.size, dtype=bool), err > tol])
        order = np.argsort(t_new)
        t, h, flag = t_new[order], h_new[order], flag[order]
        # interval k = [t_k, t_{k+1}] is rechecked when either end is a failing midpoint,
        # down to a least width: were the direct evaluation rough somewhere, a spline
        # through ever denser noisy nodes would ring; the table stops and warns instead.
        check = (flag[:-1] | flag[1:]) & (np.diff(t) > 2 * _TABLE_MIN_STEP)
    if max_error > tol:
        warnings.warn(f"rectangular MMSE table for beta={beta:g}, rho={rho:g} reached an "
                      f"estimated accuracy of {max_error:.1e} only (tol={tol:g})",
                      ConvergenceWarning, stacklevel=3)
    return RectangularMMSETable(beta=beta, rho=rho, log_delta=t, h=h,
                                alpha_s=float(_counting_threshold(beta, rho)),
                                max_error=max_error, _spline=CubicSpline(t, h))


def rectangular_mmse_table(beta, rho, tol=2e-6):
    r"""Tabulate :func:`rectangular_denoising_mmse` once for ``(beta, rho)`` (cached).

    The state evolution of bilinear sequence regression and GAMP-RIE
    evaluate :math:`\mathrm{mmse}_{\rm RIE}` thousands of times; the table
    makes each evaluation a spline lookup (microseconds). Nodes: 41 points
    uniform in :math:`\log\Delta` on :math:`[10^{-6}, 10^4]`, then every
    interval whose midpoint the cubic spline of
    :math:`h = \mathrm{mmse}\,(1+\Delta)/\Delta` misses by more than ``tol``
    is bisected, until none does (80-150 evaluations, under 2 s on one
    core), down to a node spacing of 0.005 in :math:`\log\Delta`. A
    ``ConvergenceWarning`` reports a table whose midpoint check misses
    ``tol`` (none did on a grid of :math:`\beta` from 1 to 1000 and
    :math:`\rho` from 0.01 to 10, where the largest error against direct
    evaluation at random noises was 4e-6).
    Below :math:`10^{-6}`, :math:`h` goes linearly to its limit
    :math:`\alpha_s`; above :math:`10^4`, to 1.

    Parameters
    ----------
    beta : float
        Aspect ratio :math:`L/d > 0` (mapped to :math:`\max(\beta, 1/\beta)`).
    rho : float
        Rank ratio :math:`r/\min(d, L) > 0`.
    tol : float
        Accuracy target of the interpolant in MMSE units.

    Returns
    -------
    RectangularMMSETable
        Callable on arrays of :math:`\Delta \ge 0`.
    """
    beta = _canonical_beta(beta)
    rho = check_positive_scalar(rho, "rho")
    tol = check_positive_scalar(tol, "tol")
    return _table(beta, rho, tol)


# ------------------------------------------------------------- estimator
def _clip_to_support(x, g, delta, beta, rho):
    """Clip the points ``x`` (with their ``G``) to the outer edges of the support.

    ``G`` at a clipped point is the double root at its edge (:func:`_polish_edges`).
    Only points beyond the extreme ones with a positive density can lie
    outside ``[lo_edge, hi_edge]``, so the support is located only when there
    are such points.
    """
    inside = g.imag / np.pi > _MU_THR
    if np.any(inside) and np.all((x >= x[inside].min()) & (x <= x[inside].max())):
        return x, g
    bulks = _support(delta, beta, rho)
    lo_edge, hi_edge = bulks[0][0], bulks[-1][1]
    out = (x > hi_edge) | (x < lo_edge)
    if not np.any(out):
        return x, g
    x = np.clip(x, lo_edge, hi_edge)
    g = g.copy()
    g_edge = _polish_edges(x[out], delta, beta, rho)[1]
    g[out] = np.where(np.isnan(g_edge), _G(x[out], delta, beta, rho), g_edge)
    return x, g


def rectangular_rie(Y, delta, rho, *, clip=False):
    r"""Rectangular RIE of :math:`S` from :math:`Y = S + \sqrt\Delta Z` (any shape).

    With :math:`d \le L` (``Y`` is transposed internally otherwise),
    :math:`\beta = L/d`, :math:`\tilde Y = Y/(dL)^{1/4} = \sum_k\sigma_k
    u_k v_k^\top`,

    .. math::

        \hat S = (dL)^{1/4}\sum_k \Big(\sigma_k - \frac{2\Delta}{\sqrt\beta}
        \Big[\operatorname{Re}G(\sigma_k) + \frac{\beta-1}{2\sigma_k}\Big]\Big)
        u_k v_k^\top,

    the optimal rotationally invariant estimator of Troiani et al. [2]_ with
    the asymptotic :math:`G` (:func:`rectangular_stieltjes`, analytically
    continued just outside the support). Its error
    :math:`\|\hat S - S\|_F^2/(dL)` concentrates on
    :func:`rectangular_denoising_mmse`.

    Parameters
    ----------
    Y : array_like, shape (d, L)
        Observation in :math:`S` units (entries of variance :math:`1+\Delta`).
    delta : float
        Noise variance :math:`\Delta \ge 0`; at 0, ``Y`` is returned.
    rho : float
        Rank ratio :math:`r/\min(d, L) > 0` of the signal.
    clip : bool
        Outside the outer edges of the asymptotic support, shift the
        singular values by the correction at the nearest edge instead of
        evaluating :math:`G` there (``_clip_to_support``): the
        correction has an infinite slope just outside the edges, so
        finite-size outliers would jump back and forth across them inside an
        iteration such as GAMP-RIE. The shrinkage stays continuous, with
        slope 1 outside, and nothing changes as :math:`d \to \infty`.

    Returns
    -------
    ndarray, shape (d, L)
    """
    rho = check_positive_scalar(rho, "rho")
    delta = check_noise_variance(delta)
    if delta.ndim != 0:
        raise ValueError("delta must be a scalar")
    delta = float(delta)
    Y = as_float_array(Y, "Y")
    if Y.ndim != 2 or min(Y.shape) < 1:
        raise ValueError(f"Y must be a non-empty 2-d matrix, got shape {Y.shape}")
    if delta == 0:
        return Y.copy()
    transpose = Y.shape[0] > Y.shape[1]
    Yc = Y.T if transpose else Y
    d, L = Yc.shape
    beta = L / d
    scale = (d * L) ** 0.25
    u, sig, vt = np.linalg.svd(Yc / scale, full_matrices=False)
    shr = np.zeros_like(sig)
    pos = sig > 0
    x = sig[pos]
    g = _G(x, delta, beta, rho)
    xc = x
    if clip:
        xc, g = _clip_to_support(x, g, delta, beta, rho)
    shr[pos] = x - 2 * delta / np.sqrt(beta) * (g.real + (beta - 1) / (2 * xc))
    est = scale * (u * shr) @ vt
    return est.T if transpose else est


# ------------------------------------------------------------- sampling
def sample_rectangular_signal(d, L, rho, rng=None):
    r"""Draw the BSR teacher :math:`S = UV^\top/\sqrt r` of shape ``(d, L)``.

    :math:`U \in \mathbb{R}^{d\times r}`, :math:`V \in \mathbb{R}^{L\times r}`
    i.i.d. :math:`\mathcal{N}(0,1)`, :math:`r = \operatorname{round}(\rho
    \min(d, L))` (at least 1), so :math:`\mathbb{E}S_{ij}^2 = 1` [1]_.

    Parameters
    ----------
    d, L : int
        Shape.
    rho : float
        Rank ratio :math:`r/\min(d, L)`.
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    ndarray, shape (d, L)
    """
    d = check_positive_int(d, "d")
    L = check_positive_int(L, "L")
    rho = check_positive_scalar(rho, "rho")
    r = int(round(rho * min(d, L)))
    if r < 1:
        raise ValueError(f"rho * min(d, L) must round to at least 1, got rho={rho!r}")
    rng = np.random.default_rng(rng)
    U = rng.standard_normal((d, r))
    V = rng.standard_normal((L, r))
    return U @ V.T / np.sqrt(r)
