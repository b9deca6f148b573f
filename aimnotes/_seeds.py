"""Averages over seeds, shared by the results of repeated finite-size runs."""

import numpy as np


def mean_and_stderr(runs):
    """Mean over the seeds (axis 0) and its standard error (0 with a single seed)."""
    runs = np.asarray(runs, dtype=float)
    mean = runs.mean(axis=0)
    if runs.shape[0] < 2:
        return mean, np.zeros_like(mean)
    return mean, runs.std(axis=0, ddof=1) / np.sqrt(runs.shape[0])


def seed_mean(result, name):
    """Average of a metric over seeds."""
    return mean_and_stderr(getattr(result, name))[0]


def seed_stderr(result, name):
    """Standard error of that average (0 with a single seed)."""
    return mean_and_stderr(getattr(result, name))[1]
