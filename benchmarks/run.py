"""Benchmarks of aimnotes: speed ratios measured within one run.

Usage::

    python benchmarks/run.py [--quick] [--output PATH]

Three benchmarks, each documenting a requirement of the package:

1. State evolution over a grid of ``alpha`` as one vectorised call of
   :func:`aimnotes.glm.state_evolution`, against a Python loop of scalar
   calls (requirement: the vectorised call is at least 10 times faster).
2. One GAMP iteration of :func:`aimnotes.glm.amp`, against its two
   matrix-vector products ``X @ a`` and ``X.T @ g`` (requirement: at most
   1.5 times their cost).
3. Wall time of :func:`aimnotes.glm.thresholds` for the binary perceptron
   with threshold ``kappa`` (requirement: a few seconds per call).

Every time is the median over repeats of ``timeit``-style measurements
(garbage collector off, several calls per measurement for short
functions); the competing variants are measured interleaved, so slow
drifts of the machine affect both alike. Requirements are compared with
ratios of times taken in the same run and reported, never asserted.
A table is printed and the results, with the machine, library versions
and BLAS threading, are written as JSON.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import subprocess
import timeit
from pathlib import Path

import numpy as np
import scipy
from threadpoolctl import threadpool_info

import aimnotes
from aimnotes import channels, glm, priors

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

SETTINGS = {
    "default": {
        "se_n_alpha": 64,
        "se_repeat": 15,
        "amp_d": 3000,
        "amp_iters": (10, 50),
        "amp_repeat": 9,
        "matvec_number": 10,
        "thresholds_repeat": 3,
    },
    "quick": {
        "se_n_alpha": 64,
        "se_repeat": 3,
        "amp_d": 1000,
        "amp_iters": (5, 25),
        "amp_repeat": 3,
        "matvec_number": 10,
        "thresholds_repeat": 1,
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
        variables that are set.
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


# ------------------------------------------------------------------ output
def _mark(ok):
    return "yes" if ok else "NO"


def format_report(results):
    """Human-readable tables of the results.

    Parameters
    ----------
    results : dict
        As returned by :func:`main` (keys ``environment``, ``mode``,
        ``state_evolution``, ``amp``, ``thresholds``).

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
    }
    print(format_report(results))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {output}")
    return results


if __name__ == "__main__":
    main()
