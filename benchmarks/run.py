"""Benchmarks of aimnotes: speed ratios measured within one run.

Usage::

    python benchmarks/run.py [--quick] [--output PATH]

Seven benchmarks, each documenting requirements of the package:

1. State evolution over a grid of ``alpha`` as one vectorised call of
   :func:`aimnotes.glm.state_evolution`, against a Python loop of scalar
   calls (requirement: the vectorised call is at least 10 times faster).
2. One GAMP iteration of :func:`aimnotes.glm.amp`, against its two
   matrix-vector products ``X @ a`` and ``X.T @ g`` (requirement: at most
   1.5 times their cost).
3. Wall time of :func:`aimnotes.glm.thresholds` for the binary perceptron
   with threshold ``kappa`` (requirement: a few seconds per call).
4. The attention-indexed model (:mod:`aimnotes.aim`): wall time of one
   point of :func:`aimnotes.aim.state_evolution` for the softmax channel
   (requirement: well under 1 s) and the hardmax channel (under 1 s, by
   deterministic quadrature), warm and on the first call for a new ``rho``
   (which builds cached tables); a 50-point softmax curve as one vectorised
   call against a loop of scalar calls; and one iteration of
   :func:`aimnotes.aim.gamp_rie` at ``d = 100`` against its two batched
   matmuls plus one symmetric eigendecomposition (requirement: at most 2
   times their cost).
5. Rules and facts (:mod:`aimnotes.raf`): wall time of a 50-point ERM
   state-evolution curve, :func:`aimnotes.raf.erm_state_evolution` as one
   vectorised call, for the hinge and logistic losses at two ridge
   penalties (requirement: seconds, flagged against 5 s), and its speedup
   over a Python loop of scalar calls for the logistic loss at
   ``lam = 1e-2`` (reported; with ``--quick`` the loop runs on every fifth
   alpha and its time is scaled).

6. Bilinear sequence regression (``benchmarks/bench_bsr.py``): building the
   denoising-MMSE table for one ``(beta, rho)`` (requirement: a couple of
   seconds, accurate to 1e-5), a 50-point state-evolution curve warm and cold,
   and one GAMP-RIE iteration against its two design products plus one SVD
   (requirement: at most 2 times their cost).
7. Spreading (``benchmarks/bench_spreading.py``): one BP sweep on a random
   3-regular graph with ``N = 10**5``, ``T = 5`` (requirement: about a
   second), and one BP-AMP outer step against its two mat-vecs.

Every time is the median over repeats of ``timeit``-style measurements
(garbage collector off, several calls per measurement for short
functions); the competing variants are measured interleaved, so slow
drifts of the machine affect both alike. Requirements are compared with
ratios of times taken in the same run and reported, never asserted.
A table is printed and the results, with the machine, library versions
and BLAS threading, are written as JSON.
"""

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import platform
import subprocess
import timeit
import warnings
from pathlib import Path

import numpy as np
import scipy
from threadpoolctl import threadpool_info, threadpool_limits

import aimnotes
from aimnotes import _hardmax, aim, channels, glm, priors, raf, rmt

import bench_bsr  # noqa: E402  (benchmarks/ is the script's directory)
import bench_spreading  # noqa: E402
from aimnotes.solvers import ConvergenceWarning

HERE = Path(__file__).resolve().parent
#: Fields of each ``threadpoolctl`` thread pool recorded with the results.
POOL_KEYS = ("user_api", "internal_api", "version", "num_threads", "threading_layer",
             "architecture", "filepath")
#: Environment variables recorded with the results (thread and BLAS settings).
ENV_PREFIXES = ("OPENBLAS_", "OMP_", "MKL_", "BLIS_", "GOTO_", "VECLIB_")
DEFAULT_OUTPUT = HERE / "results.json"

#: Required speedup of vectorised state evolution over the scalar loop.
SE_MIN_SPEEDUP = 10.0
#: Allowed cost of one GAMP iteration, in units of its two matrix-vector products.
AMP_MAX_RATIO = 1.5
#: Sample ratio of the GAMP benchmark.
AMP_ALPHA = 2.0
#: Allowed wall time of one AIM state-evolution point, in seconds.
AIM_SE_MAX_S = 1.0
#: Allowed cost of one GAMP-RIE iteration, in units of its two batched matmuls
#: plus one symmetric eigendecomposition.
AIM_GAMP_MAX_RATIO = 2.0
#: Width ratio of every AIM benchmark.
AIM_RHO = 0.5
#: Token dimension of the GAMP-RIE benchmark.
AIM_D = 100
#: The AIM cases: (name, channel, alpha) of the single state-evolution points
#: and of GAMP-RIE.
AIM_CASES = (("softmax", aim.Softmax(2), 0.1), ("hardmax", aim.Hardmax(), 0.5))
#: BLAS threads of the GAMP-RIE benchmark: ``None`` leaves the default (one
#: per core), 1 limits BLAS to one thread (at d = 100 the calls are small, and
#: a neighbouring process stalls multi-threaded OpenBLAS far more; see README).
AIM_GAMP_THREADS = (None, 1)
#: The softmax state-evolution curve: alphas of the vectorised call and the loop.
AIM_CURVE = np.linspace(0.0, 0.3, 50)
#: Allowed wall time of one 50-point rules-and-facts curve, in seconds.
RAF_SE_MAX_S = 5.0
#: The rules-and-facts curve: alphas and fact fraction of every case.
RAF_CURVE = np.linspace(0.1, 4.0, 50)
RAF_EPS = 0.2
#: The rules-and-facts cases: (loss, lam) of the vectorised curves.
RAF_CASES = (("hinge", 1e-2), ("hinge", 1.0), ("logistic", 1e-2), ("logistic", 1.0))
#: The case whose vectorised curve is compared with a loop of scalar calls.
RAF_LOOP_CASE = ("logistic", 1e-2)

SETTINGS = {
    "default": {
        "se_n_alpha": 64,
        "se_repeat": 15,
        "amp_d": 3000,
        "amp_iters": (10, 50),
        "amp_repeat": 9,
        "matvec_number": 10,
        "thresholds_repeat": 3,
        "aim_se_repeat": 15,
        "aim_se_number": 20,
        "aim_first_repeat": 7,
        "aim_iters": (5, 20),
        "aim_repeat": 7,
        "aim_ops_number": 5,
        "raf_repeat": 5,
        "raf_loop_stride": 1,
    },
    "quick": {
        "se_n_alpha": 64,
        "se_repeat": 3,
        "amp_d": 1000,
        "amp_iters": (5, 25),
        "amp_repeat": 3,
        "matvec_number": 10,
        "thresholds_repeat": 1,
        "aim_se_repeat": 3,
        "aim_se_number": 5,
        "aim_first_repeat": 2,
        "aim_iters": (3, 8),
        "aim_repeat": 3,
        "aim_ops_number": 3,
        "raf_repeat": 2,
        "raf_loop_stride": 5,
    },
}


# ------------------------------------------------------------------ timing
def interleaved_medians(cases, repeat):
    """Median time per call of several functions, measured in turn.

    Parameters
    ----------
    cases : dict of str to (callable, int)
        For each name, a function of no argument and the number of calls
        per measurement.
    repeat : int
        Number of measurements of each function; one measurement of every
        function is taken before the next round starts.

    Returns
    -------
    dict of str to float
        Median over the ``repeat`` measurements of the time per call, in
        seconds.
    """
    timers = {name: (timeit.Timer(fn), number) for name, (fn, number) in cases.items()}
    samples = {name: [] for name in cases}
    for _ in range(repeat):
        for name, (timer, number) in timers.items():
            samples[name].append(timer.timeit(number) / number)
    return {name: float(np.median(times)) for name, times in samples.items()}


# ------------------------------------------------------------- environment
def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args):
    try:
        out = subprocess.run(
            ["git", *args], cwd=HERE.parent, capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _source_hash():
    h = hashlib.sha256()
    for path in sorted(Path(aimnotes.__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def environment():
    """Machine, versions and BLAS threading of this run.

    Returns
    -------
    dict
        Date (UTC), CPU, core count, load average at the start (other
        processes competing for the cores distort every timing, BLAS calls
        most), Python/numpy/scipy/aimnotes versions, the git commit of the
        repository (``None`` outside a repository with commits), whether
        ``aimnotes/`` differs from it, a SHA-256 of the package's sources
        (which code was measured, committed or not), the thread pools
        reported by ``threadpoolctl`` and the threading-related environment
        variables that are set. :func:`main` adds ``load_average_end``, the
        load average when the benchmarks have run.
    """
    status = _git("status", "--porcelain", "--", "aimnotes")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "aimnotes": aimnotes.__version__,
        "git_commit": _git("rev-parse", "HEAD"),
        "aimnotes_modified": None if status is None else status != "",
        "aimnotes_sha256": _source_hash(),
        "threadpools": [
            {key: pool.get(key) for key in POOL_KEYS} for pool in threadpool_info()
        ],
        "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(ENV_PREFIXES)},
    }


# -------------------------------------------------------------- benchmarks
def bench_state_evolution(cfg):
    """Vectorised state evolution against a loop of scalar calls.

    Parameters
    ----------
    cfg : dict
        Settings (``se_n_alpha``, ``se_repeat``).

    Returns
    -------
    list of dict
        One entry per prior (with the ``Sign`` channel): median times of
        the vectorised call and of the loop, their ratio, the iteration
        counts (the vectorised call runs ``max(n_iter)`` sweeps, the loop
        ``sum(n_iter)`` scalar updates) and the largest difference of the
        overlaps the two give.
    """
    alphas = np.linspace(0.05, 3.0, cfg["se_n_alpha"])
    channel = channels.Sign()
    rows = []
    for prior in (priors.Gaussian(), priors.Rademacher()):
        vec = glm.state_evolution(alphas, prior, channel)
        loop = [glm.state_evolution(a, prior, channel) for a in alphas]
        times = interleaved_medians(
            {
                "vectorised": (lambda: glm.state_evolution(alphas, prior, channel), 5),
                "loop": (lambda: [glm.state_evolution(a, prior, channel) for a in alphas], 1),
            },
            cfg["se_repeat"],
        )
        speedup = times["loop"] / times["vectorised"]
        rows.append({
            "prior": repr(prior),
            "channel": repr(channel),
            "n_alpha": alphas.size,
            "vectorised_s": times["vectorised"],
            "loop_s": times["loop"],
            "speedup": speedup,
            "required_speedup": SE_MIN_SPEEDUP,
            "meets_requirement": speedup >= SE_MIN_SPEEDUP,
            "n_iter_max": int(vec.n_iter.max()),
            "n_iter_total": int(vec.n_iter.sum()),
            "max_abs_q_diff": float(np.max(np.abs(vec.q - np.array([s.q for s in loop])))),
        })
    return rows


def bench_amp(cfg):
    """Cost of one GAMP iteration in units of its two matrix-vector products.

    The time per iteration is the difference of the times of calls with
    ``max_iter = K_hi`` and ``K_lo`` divided by the difference of the numbers
    of iterations they ran, which removes the fixed cost of a call (input
    checks, ``||X||_F^2``, the result); that fixed cost is reported
    separately. The calls use ``tol=0`` and ``variance_floor=0``, so that
    GAMP runs ``max_iter`` iterations unless ``g_out`` underflows at
    perfect recovery.

    Parameters
    ----------
    cfg : dict
        Settings (``amp_d``, ``amp_iters``, ``amp_repeat``, ``matvec_number``).

    Returns
    -------
    list of dict
        One entry per prior (with the ``Sign`` channel).

    Raises
    ------
    RuntimeError
        If GAMP stops before ``K_lo`` iterations, so that the difference
        is empty.
    """
    d = cfg["amp_d"]
    k_lo, k_hi = cfg["amp_iters"]
    channel = channels.Sign()
    rows = []
    for seed, prior in enumerate((priors.Gaussian(), priors.Rademacher())):
        rng = np.random.default_rng(seed)
        X, y, _ = glm.sample(d, AMP_ALPHA, prior, channel, rng=rng)
        a = rng.standard_normal(d)
        g = rng.standard_normal(X.shape[0])

        def run_amp(k):
            return glm.amp(X, y, prior, channel, max_iter=k, tol=0.0, variance_floor=0.0)

        n_lo, n_hi = run_amp(k_lo).n_iter, run_amp(k_hi).n_iter
        if n_hi <= n_lo:
            raise RuntimeError(f"GAMP stopped after {n_hi} iterations, before max_iter={k_lo}")
        times = interleaved_medians(
            {
                "matvec": (lambda: (X @ a, X.T @ g), cfg["matvec_number"]),
                "amp_lo": (lambda: run_amp(k_lo), 1),
                "amp_hi": (lambda: run_amp(k_hi), 1),
            },
            cfg["amp_repeat"],
        )
        per_iter = (times["amp_hi"] - times["amp_lo"]) / (n_hi - n_lo)
        ratio = per_iter / times["matvec"]
        rows.append({
            "prior": repr(prior),
            "channel": repr(channel),
            "n": X.shape[0],
            "d": d,
            "iterations": [n_lo, n_hi],
            "amp_s": [times["amp_lo"], times["amp_hi"]],
            "matvec_s": times["matvec"],
            "iteration_s": per_iter,
            "fixed_cost_s": times["amp_lo"] - n_lo * per_iter,
            "ratio": ratio,
            "max_ratio": AMP_MAX_RATIO,
            "meets_requirement": ratio <= AMP_MAX_RATIO,
        })
    return rows


def bench_thresholds(cfg):
    """Wall time of :func:`aimnotes.glm.thresholds`, Rademacher prior and ``Sign(kappa)``.

    Parameters
    ----------
    cfg : dict
        Settings (``thresholds_repeat``).

    Returns
    -------
    list of dict
        One entry per ``kappa`` in (0, 1, 3): median time of a call and the
        thresholds it returns.
    """
    prior = priors.Rademacher()
    rows = []
    for kappa in (0.0, 1.0, 3.0):
        channel = channels.Sign(kappa)
        result = glm.thresholds(prior, channel)
        times = interleaved_medians(
            {"thresholds": (lambda: glm.thresholds(prior, channel), 1)},
            cfg["thresholds_repeat"],
        )
        rows.append({
            "prior": repr(prior),
            "channel": repr(channel),
            "kappa": kappa,
            "time_s": times["thresholds"],
            "alpha_it": result.alpha_it,
            "alpha_alg": result.alpha_alg,
        })
    return rows


def _clear_aim_caches(hardmax_table=False):
    """Forget the tables that :func:`aimnotes.aim.state_evolution` caches.

    ``rmt._slope_table`` (softmax closed form) and ``aim._mmse_interpolant``
    (iterated channels) are cached per ``rho``; the next call is then the
    first for its ``rho``. ``_hardmax._table`` (hardmax Fisher information)
    is cached once per process, for any ``rho``.
    """
    rmt._slope_table.cache_clear()
    aim._mmse_interpolant.cache_clear()
    if hardmax_table:
        _hardmax._table.cache_clear()


def _same_state(a, b):
    """Whether two :class:`aimnotes.aim.AIMStateEvolution` are bitwise equal."""
    return all(np.array_equal(getattr(a, k), getattr(b, k), equal_nan=True)
               for k in ("q", "q_hat", "mse", "n_iter"))


def bench_aim_state_evolution(cfg):
    """Wall time of single AIM state-evolution points and of a softmax curve.

    Parameters
    ----------
    cfg : dict
        Settings (``aim_se_repeat``, ``aim_se_number``, ``aim_first_repeat``).

    Returns
    -------
    dict
        ``"points"``: one entry per channel of :data:`AIM_CASES`, with the
        median time of a warm call (tables cached), of the first call for a
        new ``rho`` (per-``rho`` caches cleared before each measurement)
        and, for the hardmax channel, of the first call of the process
        (its Fisher-information table cleared too); the point's error and
        whether every call, cold or warm, returned bitwise the same state.
        ``"curve"``: the softmax curve over :data:`AIM_CURVE` as one
        vectorised call against a loop of scalar calls.
    """
    points = []
    for name, channel, alpha in AIM_CASES:
        def call():
            return aim.state_evolution(alpha, AIM_RHO, channel)

        def first_for_rho():
            _clear_aim_caches()
            return call()

        def first_of_process():
            _clear_aim_caches(hardmax_table=True)
            return call()

        cold = first_of_process()
        warm = call()
        # No ratio is formed here: the warm calls (short, many per
        # measurement) and the first calls (each rebuilds a table, fewer
        # repeats) are measured apart.
        times = interleaved_medians({"warm": (call, cfg["aim_se_number"])},
                                    cfg["aim_se_repeat"])
        cases = {"first_rho": (first_for_rho, 1)}
        if name == "hardmax":
            cases["first_process"] = (first_of_process, 1)
        times.update(interleaved_medians(cases, cfg["aim_first_repeat"]))
        again = first_for_rho()
        points.append({
            "case": name,
            "channel": repr(channel),
            "alpha": alpha,
            "rho": AIM_RHO,
            "warm_s": times["warm"],
            "first_call_s": times["first_rho"],
            "first_call_process_s": times.get("first_process"),
            "max_s": AIM_SE_MAX_S,
            "meets_requirement": times["warm"] < AIM_SE_MAX_S,
            "first_call_meets_requirement": max(
                times["first_rho"], times.get("first_process", 0.0)) < AIM_SE_MAX_S,
            "mse": float(warm.mse),
            "n_iter": int(warm.n_iter),
            "deterministic": _same_state(cold, warm) and _same_state(warm, again),
        })

    channel = AIM_CASES[0][1]  # softmax
    vec = aim.state_evolution(AIM_CURVE, AIM_RHO, channel)
    loop = [aim.state_evolution(a, AIM_RHO, channel) for a in AIM_CURVE]
    times = interleaved_medians(
        {
            "vectorised": (lambda: aim.state_evolution(AIM_CURVE, AIM_RHO, channel), 1),
            "loop": (lambda: [aim.state_evolution(a, AIM_RHO, channel) for a in AIM_CURVE], 1),
        },
        cfg["aim_se_repeat"],
    )
    pr = float(aim.perfect_recovery_threshold(AIM_RHO, channel))
    curve = {
        "channel": repr(channel),
        "rho": AIM_RHO,
        "n_alpha": AIM_CURVE.size,
        "alpha_range": [float(AIM_CURVE[0]), float(AIM_CURVE[-1])],
        "n_solved": int(np.sum((AIM_CURVE > 0) & (AIM_CURVE < pr))),
        "alpha_pr": pr,
        "vectorised_s": times["vectorised"],
        "loop_s": times["loop"],
        "speedup": times["loop"] / times["vectorised"],
        "max_abs_mse_diff": float(np.max(np.abs(vec.mse - np.array([s.mse for s in loop])))),
    }
    return {"points": points, "curve": curve}


@contextlib.contextmanager
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def bench_aim_gamp(cfg):
    """Cost of one GAMP-RIE iteration against its batched matmuls and eigh.

    The time per iteration is the difference of the times of
    :func:`aimnotes.aim.gamp_rie` with ``max_iter = K_hi`` and ``K_lo`` and
    ``tol = 0``, divided by the difference of the numbers of iterations they
    ran (as in :func:`bench_amp`). ``tol = 0`` leaves the absolute floor
    ``1e-12`` of the stopping test, which the iterate reaches only near
    convergence; the counts actually run are recorded. The reference is
    ``aim._indices(tokens, S)`` + ``aim._adjoint(tokens, G)`` +
    ``np.linalg.eigh(R)`` on inputs of the same sizes (the teacher ``S``, a
    random symmetric ``G`` of shape ``(n, T, T)``, a random symmetric ``R``).

    Parameters
    ----------
    cfg : dict
        Settings (``aim_iters``, ``aim_repeat``, ``aim_ops_number``).

    Returns
    -------
    list of dict
        One entry per case of :data:`AIM_CASES` and BLAS threading of
        :data:`AIM_GAMP_THREADS` (``blas_threads``: ``None`` for the
        default), with the three parts of the reference timed apart too.

    Raises
    ------
    RuntimeError
        If GAMP-RIE stops before ``K_lo`` iterations, so that the
        difference is empty.
    """
    k_lo, k_hi = cfg["aim_iters"]
    d = AIM_D
    rows = []
    for seed, (name, channel, alpha) in enumerate(AIM_CASES):
        rng = np.random.default_rng(seed)
        tokens, y, S = aim.sample(d, alpha, AIM_RHO, channel, rng=rng)
        G = rng.standard_normal(y.shape)
        G = 0.5 * (G + np.swapaxes(G, -1, -2))
        R = rng.standard_normal((d, d))
        R = S + (R + R.T) / np.sqrt(2.0 * d)
        for threads in AIM_GAMP_THREADS:
            limit = (contextlib.nullcontext() if threads is None
                     else threadpool_limits(limits=threads, user_api="blas"))
            with limit:
                row = _aim_gamp_case(cfg, tokens, y, S, G, R, channel, k_lo, k_hi)
            rows.append({"case": name, "alpha": alpha, "blas_threads": threads, **row})
    return rows


def _aim_gamp_case(cfg, tokens, y, S, G, R, channel, k_lo, k_hi):
    """One row of :func:`bench_aim_gamp`, under the BLAS threading in force."""

    def run_gamp(k):
        with _quiet_convergence():
            return aim.gamp_rie(tokens, y, AIM_RHO, channel, max_iter=k, tol=0.0)

    n_lo, n_hi = run_gamp(k_lo).n_iter, run_gamp(k_hi).n_iter
    if n_hi <= n_lo:
        raise RuntimeError(f"GAMP-RIE stopped after {n_hi} iterations, "
                           f"before max_iter={k_lo}")
    number = cfg["aim_ops_number"]
    times = interleaved_medians(
        {
            "ops": (lambda: (aim._indices(tokens, S), aim._adjoint(tokens, G),
                             np.linalg.eigh(R)), number),
            "indices": (lambda: aim._indices(tokens, S), number),
            "adjoint": (lambda: aim._adjoint(tokens, G), number),
            "eigh": (lambda: np.linalg.eigh(R), number),
            "gamp_lo": (lambda: run_gamp(k_lo), 1),
            "gamp_hi": (lambda: run_gamp(k_hi), 1),
        },
        cfg["aim_repeat"],
    )
    per_iter = (times["gamp_hi"] - times["gamp_lo"]) / (n_hi - n_lo)
    ratio = per_iter / times["ops"]
    return {
        "channel": repr(channel),
        "rho": AIM_RHO,
        "d": tokens.shape[2],
        "n": tokens.shape[0],
        "max_iter": [k_lo, k_hi],
        "iterations": [n_lo, n_hi],
        "exact_iterations": [n_lo, n_hi] == [k_lo, k_hi],
        "gamp_s": [times["gamp_lo"], times["gamp_hi"]],
        "ops_s": times["ops"],
        "indices_s": times["indices"],
        "adjoint_s": times["adjoint"],
        "eigh_s": times["eigh"],
        "iteration_s": per_iter,
        "fixed_cost_s": times["gamp_lo"] - n_lo * per_iter,
        "ratio": ratio,
        "max_ratio": AIM_GAMP_MAX_RATIO,
        "meets_requirement": ratio <= AIM_GAMP_MAX_RATIO,
    }


def bench_raf_state_evolution(cfg):
    """Wall time of rules-and-facts ERM state-evolution curves, and a loop.

    Every case of :data:`RAF_CASES` is one vectorised call
    ``raf.erm_state_evolution(RAF_CURVE, RAF_EPS, lam, loss=loss)``; the
    case :data:`RAF_LOOP_CASE` is also computed by a Python loop of scalar
    calls. With ``raf_loop_stride = s > 1`` the loop runs over every
    ``s``-th alpha only (the points spread over the whole range, where the
    iteration counts grow with alpha) and its time is multiplied by ``s``
    to estimate the 50-point loop. The five functions are measured
    interleaved, so the speedup is a ratio of times of the same rounds.

    Parameters
    ----------
    cfg : dict
        Settings (``raf_repeat``, ``raf_loop_stride``).

    Returns
    -------
    dict
        ``"curves"``: one entry per case, with the median time of the
        vectorised call, the iteration counts (the call runs
        ``max(n_iter)`` sweeps for ``sum(n_iter)`` point-updates) and
        whether every point converged. ``"loop"``: the loop's case, the
        number of alphas it ran, its measured time and the time scaled to
        the 50 alphas, the speedup, the iteration counts of its points and
        the largest differences of the errors and overlaps from the
        vectorised call at the same alphas.
    """
    stride = cfg["raf_loop_stride"]
    loop_alphas = RAF_CURVE[::stride]

    def curve(loss, lam):
        return lambda: raf.erm_state_evolution(RAF_CURVE, RAF_EPS, lam, loss=loss)

    def loop():
        loss, lam = RAF_LOOP_CASE
        return [raf.erm_state_evolution(a, RAF_EPS, lam, loss=loss) for a in loop_alphas]

    results = {case: curve(*case)() for case in RAF_CASES}
    scalars = loop()
    cases = {case: (curve(*case), 1) for case in RAF_CASES}
    cases["loop"] = (loop, 1)
    times = interleaved_medians(cases, cfg["raf_repeat"])

    curves = []
    for loss, lam in RAF_CASES:
        se = results[loss, lam]
        t = times[loss, lam]
        curves.append({
            "loss": loss,
            "lam": lam,
            "eps": RAF_EPS,
            "n_alpha": RAF_CURVE.size,
            "alpha_range": [float(RAF_CURVE[0]), float(RAF_CURVE[-1])],
            "vectorised_s": t,
            "max_s": RAF_SE_MAX_S,
            "meets_requirement": t < RAF_SE_MAX_S,
            "n_iter_max": int(se.n_iter.max()),
            "n_iter_total": int(se.n_iter.sum()),
            "converged": bool(np.all(se.converged)),
        })
    vec = results[RAF_LOOP_CASE]
    loop_s = times["loop"] * stride
    diffs = {
        f"max_abs_{k}_diff": float(np.max(np.abs(
            getattr(vec, k)[::stride] - np.array([getattr(s, k) for s in scalars]))))
        for k in ("gen_error", "mem_error", "train_error_rule", "m", "q", "V")
    }
    loop_row = {
        "loss": RAF_LOOP_CASE[0],
        "lam": RAF_LOOP_CASE[1],
        "eps": RAF_EPS,
        "n_alpha": RAF_CURVE.size,
        "loop_n_alpha": loop_alphas.size,
        "loop_scale": stride,
        "loop_measured_s": times["loop"],
        "loop_s": loop_s,
        "vectorised_s": times[RAF_LOOP_CASE],
        "speedup": loop_s / times[RAF_LOOP_CASE],
        "loop_n_iter_total": int(sum(int(s.n_iter) for s in scalars)),
        "vectorised_n_iter_total_same_alphas": int(vec.n_iter[::stride].sum()),
        "converged": all(bool(s.converged) for s in scalars),
        **diffs,
    }
    return {"curves": curves, "loop": loop_row}


# ------------------------------------------------------------------ output
def _mark(ok):
    return "yes" if ok else "NO"


def format_report(results):
    """Human-readable tables of the results.

    Parameters
    ----------
    results : dict
        As returned by :func:`main` (keys ``environment``, ``mode``,
        ``state_evolution``, ``amp``, ``thresholds``, ``aim_state_evolution``,
        ``aim_gamp``, ``raf_state_evolution``).

    Returns
    -------
    str
    """
    env = results["environment"]
    pools = "; ".join(
        f"{Path(p['filepath']).name}: {p['internal_api']} {p['version']} "
        f"({p['num_threads']} threads, {p['architecture']})"
        for p in env["threadpools"]
    ) or "none found"
    load = " ".join(f"{x:.2f}" for x in env["load_average"] or ()) or "unknown"
    load_end = env.get("load_average_end")
    if load_end:
        load += " (at the end " + " ".join(f"{x:.2f}" for x in load_end) + ")"
    lines = [
        f"aimnotes benchmarks ({results['mode']}), {env['date']}",
        f"  {env['cpu']}, {env['cpu_count']} cores, load average {load}; "
        f"Python {env['python']}, "
        f"numpy {env['numpy']}, scipy {env['scipy']}",
        f"  aimnotes {env['aimnotes']} at commit {env['git_commit']}"
        f"{' with local changes' if env['aimnotes_modified'] else ''}, "
        f"sources sha256 {env['aimnotes_sha256'][:12]}",
        f"  thread pools: {pools}",
        "  env: " + (", ".join(f"{k}={v}" for k, v in env["env"].items()) or "(none set)"),
        "",
        f"1. State evolution, {results['state_evolution'][0]['n_alpha']} alphas in "
        f"[0.05, 3]: vectorised call vs loop (required speedup >= {SE_MIN_SPEEDUP:g})",
        f"  {'prior':<18}{'vectorised':>12}{'loop':>12}{'speedup':>9}{'iters max/sum':>15}"
        f"{'ok':>5}",
    ]
    for r in results["state_evolution"]:
        lines.append(
            f"  {r['prior']:<18}{r['vectorised_s'] * 1e3:>9.2f} ms{r['loop_s'] * 1e3:>9.2f} ms"
            f"{r['speedup']:>8.1f}x{r['n_iter_max']:>7d} /{r['n_iter_total']:>6d}"
            f"{_mark(r['meets_requirement']):>5}"
        )
    amp_rows = results["amp"]
    lines += [
        "",
        f"2. GAMP at d = {amp_rows[0]['d']}, n = {amp_rows[0]['n']} (alpha = {AMP_ALPHA:g}): "
        f"one iteration vs X @ a + X.T @ g (required ratio <= {AMP_MAX_RATIO:g})",
        "   iteration = (t(K_hi) - t(K_lo)) / (K_hi - K_lo), K = iterations run",
        f"  {'prior':<18}{'K_lo, K_hi':>11}{'iteration':>12}{'matvecs':>12}{'ratio':>8}"
        f"{'fixed cost':>13}{'ok':>5}",
    ]
    for r in amp_rows:
        lines.append(
            f"  {r['prior']:<18}{'{}, {}'.format(*r['iterations']):>11}"
            f"{r['iteration_s'] * 1e3:>9.2f} ms{r['matvec_s'] * 1e3:>9.2f} ms"
            f"{r['ratio']:>8.2f}{r['fixed_cost_s'] * 1e3:>10.1f} ms"
            f"{_mark(r['meets_requirement']):>5}"
        )
    lines += [
        "",
        "3. Thresholds, Rademacher prior, Sign(kappa) (required: a few seconds per call)",
        f"  {'kappa':<8}{'time':>10}{'alpha_IT':>12}{'alpha_alg':>12}",
    ]
    for r in results["thresholds"]:
        lines.append(
            f"  {r['kappa']:<8g}{r['time_s']:>8.2f} s{r['alpha_it']:>12.5f}{r['alpha_alg']:>12.5f}"
        )
    se = results["aim_state_evolution"]
    lines += [
        "",
        f"4. Attention-indexed model, rho = {AIM_RHO:g}",
        f"  state evolution, one point (required: under {AIM_SE_MAX_S:g} s; "
        "first call = first for a new rho)",
        f"  {'channel':<22}{'alpha':>6}{'warm':>11}{'first call':>12}{'first of process':>18}"
        f"{'iters':>7}{'det.':>6}{'ok':>5}",
    ]
    for r in se["points"]:
        proc = r["first_call_process_s"]
        proc = "" if proc is None else f"{proc * 1e3:.0f} ms"
        lines.append(
            f"  {r['channel']:<22}{r['alpha']:>6g}{r['warm_s'] * 1e3:>8.2f} ms"
            f"{r['first_call_s'] * 1e3:>9.0f} ms{proc:>18}{r['n_iter']:>7d}"
            f"{_mark(r['deterministic']):>6}"
            f"{_mark(r['meets_requirement'] and r['first_call_meets_requirement']):>5}"
        )
    c = se["curve"]
    lines += [
        f"  softmax curve, {c['n_alpha']} alphas in [{c['alpha_range'][0]:g}, "
        f"{c['alpha_range'][1]:g}] ({c['n_solved']} below alpha_PR = {c['alpha_pr']:.4f}): "
        f"vectorised {c['vectorised_s'] * 1e3:.1f} ms, loop {c['loop_s'] * 1e3:.1f} ms, "
        f"speedup {c['speedup']:.1f}x, max |mse diff| {c['max_abs_mse_diff']:.1e}",
    ]
    gamp_rows = results["aim_gamp"]
    lines += [
        f"  GAMP-RIE at d = {AIM_D}: one iteration vs _indices + _adjoint + eigh "
        f"(required ratio <= {AIM_GAMP_MAX_RATIO:g})",
        f"  {'channel':<22}{'alpha':>6}{'n':>6}{'BLAS':>8}{'K_lo, K_hi':>11}{'iteration':>12}"
        f"{'reference':>12}{'ratio':>7}{'fixed cost':>13}{'ok':>5}",
    ]
    for r in gamp_rows:
        threads = "default" if r["blas_threads"] is None else f"{r['blas_threads']} thr"
        lines.append(
            f"  {r['channel']:<22}{r['alpha']:>6g}{r['n']:>6d}{threads:>8}"
            f"{'{}, {}'.format(*r['iterations']):>11}"
            f"{r['iteration_s'] * 1e3:>9.2f} ms{r['ops_s'] * 1e3:>9.2f} ms"
            f"{r['ratio']:>7.2f}{r['fixed_cost_s'] * 1e3:>10.1f} ms"
            f"{_mark(r['meets_requirement']):>5}"
        )
    lines.append("  reference = _indices + _adjoint + eigh:")
    for r in gamp_rows:
        threads = "default" if r["blas_threads"] is None else f"{r['blas_threads']} thr"
        lines.append(
            f"    {r['case']:<8}{threads:>8}: {r['indices_s'] * 1e3:.2f} + "
            f"{r['adjoint_s'] * 1e3:.2f} + {r['eigh_s'] * 1e3:.2f} ms")
    rs = results["raf_state_evolution"]
    c0 = rs["curves"][0]
    lines += [
        "",
        f"5. Rules and facts, ERM state evolution, {c0['n_alpha']} alphas in "
        f"[{c0['alpha_range'][0]:g}, {c0['alpha_range'][1]:g}], eps = {c0['eps']:g}, "
        f"one vectorised call (required: under {RAF_SE_MAX_S:g} s)",
        f"  {'loss':<10}{'lam':>7}{'vectorised':>12}{'iters max/sum':>15}{'conv.':>7}{'ok':>5}",
    ]
    for r in rs["curves"]:
        lines.append(
            f"  {r['loss']:<10}{r['lam']:>7g}{r['vectorised_s']:>10.3f} s"
            f"{r['n_iter_max']:>7d} /{r['n_iter_total']:>6d}{_mark(r['converged']):>7}"
            f"{_mark(r['meets_requirement']):>5}"
        )
    lp = rs["loop"]
    scaled = ("" if lp["loop_scale"] == 1 else
              f" (measured {lp['loop_measured_s']:.3f} s on {lp['loop_n_alpha']} alphas, "
              f"x{lp['loop_scale']})")
    lines.append(
        f"  {lp['loss']}, lam = {lp['lam']:g}: loop of scalar calls {lp['loop_s']:.3f} s"
        f"{scaled}, vectorised {lp['vectorised_s']:.3f} s, speedup {lp['speedup']:.1f}x, "
        f"max |gen diff| {lp['max_abs_gen_error_diff']:.1e}, "
        f"max |m diff| {lp['max_abs_m_diff']:.1e}")
    return "\n".join(lines)


def main(argv=None):
    """Run the benchmarks, print a table and write the JSON results.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    dict
        The results, as written to the JSON file.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true",
        help="smaller GAMP problem and fewer repeats: a smoke test of the script, "
             "not a measurement (writes no file unless --output is given)",
    )
    parser.add_argument(
        "--output", type=Path, default=None,
        help=f"JSON file to write (default: {DEFAULT_OUTPUT.relative_to(HERE.parent)}; "
             "none with --quick)",
    )
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "default"
    cfg = SETTINGS[mode]
    output = args.output if args.output is not None or args.quick else DEFAULT_OUTPUT

    results = {
        "mode": mode,
        "settings": cfg,
        "environment": environment(),
        "state_evolution": bench_state_evolution(cfg),
        "amp": bench_amp(cfg),
        "thresholds": bench_thresholds(cfg),
        "aim_state_evolution": bench_aim_state_evolution(cfg),
        "aim_gamp": bench_aim_gamp(cfg),
        "raf_state_evolution": bench_raf_state_evolution(cfg),
        "bsr": bench_bsr.bench_bsr(quick=args.quick),
        "spreading": bench_spreading.bench_bp_sweep(quick=args.quick),
    }
    results["environment"]["load_average_end"] = (
        list(os.getloadavg()) if hasattr(os, "getloadavg") else None)
    print(format_report(results))
    print()
    print(bench_bsr.format_report(results["bsr"]))
    sp = results["spreading"]
    print(f"\nSpreading: one BP sweep, N = {sp['n_nodes']}, 3-regular, T = {sp['T']}: "
          f"{sp['sweep_s']:.2f} s (required: about 1 s); BP-AMP outer step, N = "
          f"{sp['amp_n_nodes']}, M = {sp['amp_m']}: {sp['outer_step_s'] * 1e3:.1f} ms, "
          f"{sp['outer_over_matvecs']:.0f}x its two mat-vecs")
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {output}")
    return results


if __name__ == "__main__":
    main()
