"""Benchmark of :mod:`aimnotes.bsr`: denoising table, state-evolution curves, GAMP-RIE.

Usage::

    python benchmarks/bench_bsr.py [--quick]

:func:`bench_bsr` measures

1. building the table of the rectangular denoising MMSE for one
   ``(beta, rho)`` (:func:`aimnotes.rmt.rectangular_mmse_table`; requirement:
   at most a couple of seconds, flagged against 2 s, and accurate to 1e-5,
   checked against direct evaluations at 20 random noise levels), at three
   moderate shapes and at ``beta = 1000``, ``rho = 0.05``, where narrow bulks
   merge;
2. a 50-point state-evolution curve, :func:`aimnotes.bsr.state_evolution`, with
   the table built (warm) and including the table (cold; requirement: seconds);
3. one iteration of :func:`aimnotes.bsr.gamp_rie` at ``d = L = 50`` against its
   two products with the ``n x dL`` design plus one SVD of a ``d x L`` matrix
   (requirement: at most twice their cost): the difference of runs with
   ``max_iter = 25`` and ``5`` and ``tol = 0``, divided by 20.

Times are medians over repeats; nothing is asserted.
"""

import argparse
import warnings

import numpy as np

from aimnotes import _rmt_rectangular, bsr, rmt
from aimnotes.solvers import ConvergenceWarning
from bench_spreading import _median_time  # benchmarks/ is the script's directory

TABLE_MAX_S = 2.0
TABLE_MAX_ERROR = 1e-5
GAMP_MAX_RATIO = 2.0
CASES = ((1.0, 0.5), (2.0, 0.3), (4.0, 0.1), (1000.0, 0.05))


def _cold_table(beta, rho):
    _rmt_rectangular._table.cache_clear()
    return rmt.rectangular_mmse_table(beta, rho)


def bench_bsr(quick=False):
    """Measure the denoising table, SE curves and one GAMP-RIE iteration.

    Parameters
    ----------
    quick : bool
        One case, fewer repeats and a smaller GAMP problem (a smoke test).

    Returns
    -------
    dict
        ``tables`` (one row per ``(beta, rho)``: ``table_s``, ``n_nodes``,
        ``max_error`` against direct evaluations, ``se_warm_s``,
        ``se_cold_s``, the limits ``max_table_s`` and ``max_error_allowed``), and
        ``gamp`` (``iteration_s``, ``ops_s``, ``ratio``).
    """
    repeats = 1 if quick else 3
    rng = np.random.default_rng(0)
    alpha = np.linspace(0.0, 1.2, 50)
    tables = []
    for beta, rho in CASES[:1] if quick else CASES:
        table_s = _median_time(lambda: _cold_table(beta, rho), repeats)
        table = rmt.rectangular_mmse_table(beta, rho)
        delta = np.exp(rng.uniform(np.log(1e-4), np.log(1e3), 20))
        error = float(np.max(np.abs(table(delta)
                                    - rmt.rectangular_denoising_mmse(delta, beta, rho))))
        se_warm_s = _median_time(lambda: bsr.state_evolution(alpha, beta, rho), 5 * repeats)

        def cold():
            _rmt_rectangular._table.cache_clear()
            bsr.state_evolution(alpha, beta, rho)

        tables.append({
            "beta": beta, "rho": rho, "table_s": table_s, "n_nodes": int(table.log_delta.size),
            "max_error": error, "se_warm_s": se_warm_s,
            "se_cold_s": _median_time(cold, repeats), "n_alpha": alpha.size,
            "max_table_s": TABLE_MAX_S, "max_error_allowed": TABLE_MAX_ERROR,
            "meets_requirement": bool(table_s <= TABLE_MAX_S and error <= TABLE_MAX_ERROR),
        })

    d = 30 if quick else 50
    X, y, S = bsr.sample(d, d, d // 2, 0.6, 0.1, rng=1)
    n = X.shape[0]
    Phi = X.reshape(n, d * d)
    s, g = S.ravel(), rng.standard_normal(n)
    R = S + rng.standard_normal(S.shape)
    k_lo, k_hi = (2, 6) if quick else (5, 25)

    def run(k):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return bsr.gamp_rie(X, y, 0.5, 0.1, max_iter=k, tol=0.0)

    n_lo, n_hi = run(k_lo).n_iter, run(k_hi).n_iter
    per_iter = (_median_time(lambda: run(k_hi), repeats)
                - _median_time(lambda: run(k_lo), repeats)) / (n_hi - n_lo)
    ops_s = _median_time(lambda: (Phi @ s, g @ Phi, np.linalg.svd(R, full_matrices=False)),
                         20 * repeats)
    return {
        "tables": tables,
        "gamp": {"d": d, "L": d, "n": n, "iterations": [n_lo, n_hi], "iteration_s": per_iter,
                 "ops_s": ops_s, "ratio": per_iter / ops_s, "max_ratio": GAMP_MAX_RATIO,
                 "meets_requirement": bool(per_iter / ops_s <= GAMP_MAX_RATIO)},
    }


def format_report(res):
    """Text table of :func:`bench_bsr`'s results."""
    lines = ["Bilinear sequence regression",
             f"  {'beta':>5}{'rho':>6}{'table':>9}{'nodes':>7}{'max err':>10}"
             f"{'SE warm':>11}{'SE cold':>10}  ok"]
    for r in res["tables"]:
        lines.append(f"  {r['beta']:>5g}{r['rho']:>6g}{r['table_s']:>8.2f}s{r['n_nodes']:>7d}"
                     f"{r['max_error']:>10.1e}{r['se_warm_s'] * 1e3:>9.2f}ms"
                     f"{r['se_cold_s']:>9.2f}s  {'yes' if r['meets_requirement'] else 'NO'}")
    gm = res["gamp"]
    lines.append(f"  GAMP-RIE d = L = {gm['d']}, n = {gm['n']}: one iteration "
                 f"{gm['iteration_s'] * 1e3:.2f} ms, two design products + SVD "
                 f"{gm['ops_s'] * 1e3:.2f} ms, ratio {gm['ratio']:.2f} "
                 f"(required <= {gm['max_ratio']:g}: "
                 f"{'yes' if gm['meets_requirement'] else 'NO'})")
    return "\n".join(lines)


def main(argv=None):
    """Run :func:`bench_bsr` and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke test")
    args = parser.parse_args(argv)
    print(format_report(bench_bsr(quick=args.quick)))


if __name__ == "__main__":
    main()
