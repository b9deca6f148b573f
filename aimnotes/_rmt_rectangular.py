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
Newton polish, branch chosen by the sign of :math:`dG/dx`; support edges by
a grid scan of :math:`\{\mu > 10^{-7}\}` followed by vectorised bisection;
on each bulk :math:`[a, b]` the substitution
:math:`x = a + \tfrac{b-a}{2}(1 - \cos\theta)` and Gauss-Legendre in
:math:`\theta`, doubled until two rules agree.

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

#: Density below which mu counts as zero (support detection on a grid).
_MU_THR = 1e-7
#: Least relative conditioning |P_G| |G| / sum_k |c_k G^k| of an off-support root.
_COND_MIN = 1e-6
_GRID_LIN = 1500
_GRID_LOG = 500
_BISECT = 60
_CLIP_ROUNDS = 4
_QUAD_N0 = 128
_QUAD_NMAX = 2048
_QUAD_TOL = 1e-10


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
    if np.any(flat == 0):  # density at 0 (beta = 1 only) by continuity
        tiny = 1e-9 * max(1.0, float(np.max(flat)))
        mu0 = float(rectangular_spectral_density(tiny, delta, beta, rho))
        mu = np.where(flat.reshape(s.shape) == 0, mu0, mu)
    return scalar_or_array(mu)


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


def _inside(x, delta, beta, rho):
    return _G_rows(x, delta, beta, rho).imag / np.pi > _MU_THR


def _supports(delta, beta, rho, pieces=False):
    """Bulks of mu on x >= 0 for each noise in the 1-d array ``delta``, canonical beta.

    Returns ``(owner, a, b)``: bulk ``k`` is ``[a[k], b[k]]`` and belongs to
    ``delta[owner[k]]``. One grid scan of ``{mu > 1e-7}`` for all noises at
    once, then vectorised bisection of every edge. With ``pieces=True`` the
    bulks are also cut at the interior minima of mu below a third of its
    maximum (the neck left where two bulks have just merged, which the
    quadrature must resolve), and the pieces are returned in the same form.
    """
    xm = _xmax(delta, beta, rho)[:, None]
    unit = np.unique(
        np.concatenate([np.linspace(0, 1, _GRID_LIN + 1)[1:], np.geomspace(1e-8, 1, _GRID_LOG)])
    )
    grid = xm * unit
    mu = _G_rows(grid, delta[:, None], beta, rho).imag / np.pi
    ins = mu > _MU_THR
    if not np.all(np.any(ins, axis=1)):
        raise RuntimeError("no support found; the density solver failed")
    if np.any(ins[:, -1]):
        raise RuntimeError("support exceeds the scan range")
    row, col = np.nonzero(ins[:, 1:] != ins[:, :-1])
    lo, hi = grid[row, col].copy(), grid[row, col + 1].copy()
    rising = ~ins[row, col]  # outside -> inside: a left edge
    dl = delta[row]
    for _ in range(_BISECT):
        mid = 0.5 * (lo + hi)
        im = _inside(mid, dl, beta, rho)
        go_right = np.where(rising, ~im, im)
        lo = np.where(go_right, mid, lo)
        hi = np.where(go_right, hi, mid)
    edges = 0.5 * (lo + hi)
    # beta = 1: the support touches 0, the first edge found is a right edge.
    starts = np.flatnonzero(ins[:, 0])
    row = np.concatenate([row, starts])
    edges = np.concatenate([edges, np.zeros(starts.size)])
    order = np.lexsort((edges, row))
    row, edges = row[order], edges[order]
    if not pieces:
        return row[0::2], edges[0::2], edges[1::2]
    inner = mu[:, 1:-1]
    neck = ((inner < mu[:, :-2]) & (inner <= mu[:, 2:]) & ins[:, 1:-1]
            & (inner < mu.max(axis=1, keepdims=True) / 3))
    n_row, n_col = np.nonzero(neck)
    rows = np.concatenate([row, n_row])
    pts = np.concatenate([edges, grid[n_row, n_col + 1]])
    is_end = np.concatenate([np.arange(row.size) % 2 == 1, np.zeros(n_row.size, dtype=bool)])
    order = np.lexsort((pts, rows))
    rows, pts, is_end = rows[order], pts[order], is_end[order]
    start = ~is_end[:-1]
    return rows[:-1][start], pts[:-1][start], pts[1:][start]


def _support(delta, beta, rho):
    """Bulks ``[(a, b), ...]`` of mu on x >= 0 for one noise, canonical beta."""
    _, a, b = _supports(np.array([float(delta)]), beta, rho)
    return list(zip(a.tolist(), b.tolist()))


def rectangular_spectral_support(delta, beta, rho):
    r"""Support of :math:`\mu` on :math:`s \ge 0` as an ``(m, 2)`` array of bulks.

    For :math:`\beta > 1` the support is gapped away from 0; at
    :math:`\beta = 1` it starts at 0. Found by a grid scan of
    :math:`\{\mu > 10^{-7}\}` and bisection (edges to ~1e-12 relative).

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
def _integrals(delta, beta, rho):
    """``(2 int_+ mu^3, 2 int_+ mu / x^2)`` for each noise in the 1-d array ``delta``.

    Integrals over the support only (a spurious O(eps) density near 0 divided
    by x^2 would bias the MMSE), with Gauss-Legendre in theta on each bulk
    after ``x = a + (b - a)(1 - cos theta)/2`` (square-root edges), the order
    doubled for the noises whose two successive rules still differ.
    """
    owner, a, b = _supports(delta, beta, rho, pieces=True)
    need_inv = beta > 1.0
    out = np.full((delta.size, 2), np.nan)
    prev = None
    todo = np.ones(delta.size, dtype=bool)
    n = _QUAD_N0
    while True:
        sel = todo[owner]
        t, wt = gauss_legendre(n, 0.0, np.pi)
        aa, bb, own = a[sel, None], b[sel, None], owner[sel]
        x = aa + 0.5 * (bb - aa) * (1 - np.cos(t))
        w = wt * 0.5 * (bb - aa) * np.sin(t)
        mu = np.maximum(_G_rows(x, delta[own][:, None], beta, rho).imag, 0.0) / np.pi
        mu = np.where(mu < _MU_THR, 0.0, mu)
        per_bulk = np.stack([2 * np.sum(w * mu**3, axis=1),
                             2 * np.sum(w * mu / x**2, axis=1) if need_inv
                             else np.zeros(own.size)], axis=1)
        cur = np.zeros((delta.size, 2))
        np.add.at(cur, own, per_bulk)
        idx = np.flatnonzero(todo)
        out[idx] = cur[idx]
        if prev is not None:
            done = np.all(np.abs(cur - prev) <= _QUAD_TOL * np.maximum(1, np.abs(cur)), axis=1)
            todo &= ~done
        if not np.any(todo) or n >= _QUAD_NMAX:
            return out
        prev, n = cur, 2 * n


def _mmse_values(delta, beta, rho):
    """mmse_RIE at each noise of the 1-d array ``delta`` (0 -> 0, inf -> 1)."""
    out = np.where(delta == 0, 0.0, 1.0)
    mid = (delta > 0) & np.isfinite(delta)
    if np.any(mid):
        dl = delta[mid]
        i3, i2 = _integrals(dl, beta, rho).T
        bracket = (beta - 1) ** 2 / beta * i2 + 4 * np.pi**2 / (3 * beta) * i3
        out[mid] = dl * (1.0 - dl / np.sqrt(beta) * bracket)
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
        # down to a least width: near the merging of two bulks at very large beta the
        # direct evaluation itself is only accurate to ~1e-4, and a spline through
        # ever denser noisy nodes rings.
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
    is bisected, until none does (about 100-150 evaluations, 1-3 s), down to
    a node spacing of 0.005 in :math:`\log\Delta`. A ``ConvergenceWarning``
    reports a table that misses ``tol`` (seen only at extreme aspect ratios,
    e.g. :math:`\beta = 1000`, :math:`\rho = 0.05`, where the direct
    evaluation is noisy at the :math:`10^{-4}` level where two bulks merge).
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

    Only the edges next to the extreme points are located, between the
    outermost point inside the support and its outside neighbour: four
    batched evaluations of ``G`` on a few dozen points, instead of the grid
    scan of :func:`_supports`.
    """
    inside = g.imag / np.pi > _MU_THR
    if not np.any(inside):
        bulks = _support(delta, beta, rho)
        lo_edge, hi_edge = bulks[0][0], bulks[-1][1]
    else:
        x_in = x[inside]
        lo_edge, hi_edge = x_in.min(), x_in.max()
        # brackets (inside point, outside neighbour) for the edges that need one
        above, below = x[x > hi_edge], x[(x < lo_edge) & ~inside]
        brackets = []
        if above.size:
            brackets.append((hi_edge, above.min()))
        if below.size:
            brackets.append((lo_edge, below.max()))
        if brackets:
            a, b = (np.array(v, dtype=float) for v in zip(*brackets))  # a inside, b outside
            # A few rounds of a 33-point scan of [a, b] (one batched root
            # solve each) instead of a long bisection: edges to 32^-4 of the
            # bracket, plenty for a finite-size regularisation.
            frac = np.linspace(0.0, 1.0, 33)
            for _ in range(_CLIP_ROUNDS):
                pts = a[:, None] + (b - a)[:, None] * frac
                ins = _G_rows(pts, delta, beta, rho).imag / np.pi > _MU_THR
                last = np.argmin(ins, axis=1) - 1  # last inside point before the first outside
                last = np.maximum(last, 0)
                rows = np.arange(a.size)
                a, b = pts[rows, last], pts[rows, last + 1]
            k = 0
            if above.size:
                hi_edge, k = a[0], 1
            if below.size:
                lo_edge = a[k]
    out = (x > hi_edge) | (x < lo_edge)
    if not np.any(out):
        return x, g
    x = np.clip(x, lo_edge, hi_edge)
    g = g.copy()
    g[out] = _G(x[out], delta, beta, rho)
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
