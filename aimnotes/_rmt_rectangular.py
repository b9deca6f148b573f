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

import numpy as np

from ._validation import (
    as_float_array,
    check_noise_variance,
    check_positive_int,
    check_positive_scalar,
    scalar_or_array,
)
from .quadrature import gauss_legendre

__all__ = [
    "rectangular_stieltjes",
    "rectangular_spectral_density",
    "rectangular_hilbert_transform",
    "rectangular_spectral_support",
    "rectangular_denoising_mmse",
    "rectangular_rie",
    "sample_rectangular_signal",
]

#: Density below which mu counts as zero (support detection on a grid).
_MU_THR = 1e-7
#: Least relative conditioning |P_G| |G| / sum_k |c_k G^k| of an off-support root.
_COND_MIN = 1e-6
_GRID_LIN = 3000
_GRID_LOG = 1000
_BISECT = 60
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


def _inside(x, delta, beta, rho):
    return _G(x, delta, beta, rho).imag / np.pi > _MU_THR


def _support(delta, beta, rho):
    """Bulks ``[(a, b), ...]`` of mu on x >= 0, canonical beta."""
    xm = _xmax(delta, beta, rho)
    grid = np.unique(
        np.concatenate(
            [np.linspace(0, xm, _GRID_LIN + 1)[1:], np.geomspace(1e-8 * xm, xm, _GRID_LOG)]
        )
    )
    ins = _inside(grid, delta, beta, rho)
    if not np.any(ins):
        raise RuntimeError("no support found; the density solver failed")
    change = np.nonzero(ins[1:] != ins[:-1])[0]
    lo, hi = grid[change].copy(), grid[change + 1].copy()
    rising = ~ins[change]  # outside -> inside: a left edge
    for _ in range(_BISECT):
        mid = 0.5 * (lo + hi)
        im = _inside(mid, delta, beta, rho)
        go_right = np.where(rising, ~im, im)
        lo = np.where(go_right, mid, lo)
        hi = np.where(go_right, hi, mid)
    edges = 0.5 * (lo + hi)
    pts = list(edges)
    if ins[0]:
        pts = [0.0] + pts  # beta = 1: support touches 0
    if ins[-1]:
        raise RuntimeError("support exceeds the scan range")
    return [(pts[2 * k], pts[2 * k + 1]) for k in range(len(pts) // 2)]


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
    """(2 int_+ mu^3, 2 int_+ mu / x^2) over the support, adaptive GL in theta."""
    bulks = _support(delta, beta, rho)
    need_inv = beta > 1.0
    prev = None
    n = _QUAD_N0
    while True:
        t, wt = gauss_legendre(n, 0.0, np.pi)
        xs, ws = [], []
        for a, b in bulks:
            xs.append(a + 0.5 * (b - a) * (1 - np.cos(t)))
            ws.append(wt * 0.5 * (b - a) * np.sin(t))
        x, w = np.concatenate(xs), np.concatenate(ws)
        mu = np.maximum(_G(x, delta, beta, rho).imag, 0.0) / np.pi
        mu = np.where(mu < _MU_THR, 0.0, mu)
        cur = np.array([2 * np.sum(w * mu**3), 2 * np.sum(w * mu / x**2) if need_inv else 0.0])
        if prev is not None and np.all(
                np.abs(cur - prev) <= _QUAD_TOL * np.maximum(1, np.abs(cur))):
            return cur
        if n >= _QUAD_NMAX:
            return cur
        prev, n = cur, 2 * n


def _mmse_one(delta, beta, rho):
    if delta == 0:
        return 0.0
    if np.isinf(delta):
        return 1.0
    i3, i2 = _integrals(delta, beta, rho)
    bracket = (beta - 1) ** 2 / beta * i2 + 4 * np.pi**2 / (3 * beta) * i3
    return delta * (1.0 - delta / np.sqrt(beta) * bracket)


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
    out = np.array([_mmse_one(float(dl), beta, rho) for dl in delta.ravel()])
    return scalar_or_array(out.reshape(delta.shape))


# ------------------------------------------------------------- estimator
def rectangular_rie(Y, delta, rho):
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
    g = _G(sig[pos], delta, beta, rho).real
    shr[pos] = sig[pos] - 2 * delta / np.sqrt(beta) * (g + (beta - 1) / (2 * sig[pos]))
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
