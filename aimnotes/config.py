"""Problem sizes of the book's experiments, chosen by one environment variable.

``AIMNOTES_SIZE`` selects how large the finite-size experiments of the
chapters are:

``quick``
    Small sizes for the notebook checks (``make test``); every claim is
    still asserted, with tolerances that scale with the measured error.
``default`` (the default)
    The sizes the published HTML book is built with (``make book``).
``full``
    Paper-scale sizes, e.g. ``AIMNOTES_SIZE=full make book``.

State-evolution curves do not depend on this switch: they are exact
asymptotic predictions and are always computed at full resolution.
"""

import os

__all__ = ["SIZES", "size", "pick"]

SIZES = ("quick", "default", "full")


def size():
    """Return the size level selected by ``AIMNOTES_SIZE``.

    Returns
    -------
    str
        One of ``"quick"``, ``"default"``, ``"full"``.

    Raises
    ------
    ValueError
        If the variable holds anything else.
    """
    level = os.environ.get("AIMNOTES_SIZE", "default").strip().lower() or "default"
    if level not in SIZES:
        raise ValueError(f"AIMNOTES_SIZE must be one of {SIZES}, got {level!r}")
    return level


def pick(*, quick, default, full):
    """Return the value matching the current size level.

    Examples
    --------
    >>> d = pick(quick=200, default=2000, full=10_000)
    """
    return {"quick": quick, "default": default, "full": full}[size()]
