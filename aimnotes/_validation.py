"""Argument checks shared by the public functions (clear ``ValueError``s)."""

import numpy as np


def as_float_array(value, name):
    """Return ``value`` as a float array, rejecting NaN and infinities."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric, got {value!r}") from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def check_nonnegative(value, name):
    """Finite array with every entry ``>= 0``."""
    arr = as_float_array(value, name)
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return arr


def check_positive(value, name):
    """Finite array with every entry ``> 0``."""
    arr = as_float_array(value, name)
    if np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return arr


def check_in_range(value, name, low, high, *, low_open=False, high_open=False):
    """Finite scalar or array inside ``[low, high]`` (ends open on request)."""
    arr = as_float_array(value, name)
    bad_low = arr <= low if low_open else arr < low
    bad_high = arr >= high if high_open else arr > high
    if np.any(bad_low | bad_high):
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise ValueError(f"{name} must lie in {left}{low}, {high}{right}, got {value!r}")
    return arr


def check_positive_int(value, name):
    """An ``int >= 1``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_choice(value, name, choices):
    """One of ``choices``, listing them in the error."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def check_positive_scalar(value, name):
    """A finite scalar ``> 0``, returned as a Python float."""
    arr = check_positive(value, name)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got an array of shape {arr.shape}")
    return float(arr)


def check_noise_variance(delta, *, allow_inf=False):
    """Float array of noise variances ``delta >= 0`` (no NaN; ``inf`` on request)."""
    try:
        arr = np.asarray(delta, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"delta must be numeric, got {delta!r}") from exc
    if np.any(np.isnan(arr)):
        raise ValueError("delta must not be NaN")
    if not allow_inf and np.any(np.isinf(arr)):
        raise ValueError("delta must be finite")
    if np.any(arr < 0):
        raise ValueError(f"delta must be >= 0, got {delta!r}")
    return arr


def scalar_or_array(x, shape=None):
    """``x`` reshaped to ``shape``; a numpy scalar when that shape is ``()``."""
    x = np.asarray(x)
    if shape is not None:
        x = x.reshape(shape)
    return x[()] if x.ndim == 0 else x
