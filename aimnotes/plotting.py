"""The book's figure style, shared by every chapter.

matplotlib is imported when these functions are called, so that the
numerical modules do not depend on it.
"""

__all__ = ["use_book_style", "errorbar_runs", "COLORS"]

#: A colour-blind-safe cycle (Okabe-Ito), used in every chapter.
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


def use_book_style():
    """Set the matplotlib defaults of the book (size, fonts, colours, grid)."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update({
        "figure.figsize": (6.4, 4.0),
        "figure.dpi": 110,
        "savefig.dpi": 150,
        "axes.prop_cycle": cycler(color=COLORS),
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "font.size": 11,
        "lines.linewidth": 1.8,
        "errorbar.capsize": 3,
    })


def errorbar_runs(ax, x, runs, **kwargs):
    """Plot the mean of repeated runs with standard-error bars.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    x : array_like, shape (k,)
    runs : array_like, shape (n_seeds, k)
        One row per seed.
    **kwargs
        Passed to ``ax.errorbar`` (default: markers, no connecting line).

    Returns
    -------
    mean, stderr : ndarray, shape (k,)
    """
    import numpy as np

    from ._seeds import mean_and_stderr

    mean, stderr = mean_and_stderr(np.atleast_2d(runs))
    kwargs.setdefault("fmt", "o")
    kwargs.setdefault("markersize", 4)
    ax.errorbar(x, mean, yerr=stderr, **kwargs)
    return mean, stderr
