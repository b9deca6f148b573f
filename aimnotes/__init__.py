"""aimnotes: the companion package of the lecture notes on the statistical physics of learning.

Modules
-------
priors
    Scalar priors as vectorised denoisers.
channels
    Scalar output channels (``g_out`` and state-evolution averages).
glm
    Teacher-student generalised linear models: data, state evolution,
    thresholds, GAMP and simple baselines.
rmt
    Random-matrix tools: free convolution of Marchenko-Pastur and
    semicircle laws, Wishart denoising error, rotation-invariant estimator.
aim
    The attention-indexed model: output channels, state evolution,
    GAMP-RIE (quadratic networks are its T = 1 case).
gd
    Gradient-descent baselines for the attention student.
raf
    Rules and facts: state evolution of ridge, hinge and logistic ERM,
    kernels and random features, Bayes-optimal baseline, finite-size
    learners (scikit-learn, imported when used).
quadrature, solvers
    Shared numerical machinery (Gauss rules, vectorised fixed points).
config
    Problem sizes of the book's experiments (``AIMNOTES_SIZE``).
plotting
    The book's figure style (imports matplotlib when called).
testing
    Conformance checks ``check_prior`` / ``check_channel`` for new denoisers
    (import it explicitly, like ``numpy.testing``).

Only numpy and scipy are needed to import the numerical modules.
"""

from . import aim, channels, config, gd, glm, plotting, priors, quadrature, raf, rmt, solvers

__version__ = "0.1.0"

__all__ = [
    "aim", "channels", "config", "gd", "glm", "plotting", "priors", "quadrature", "raf",
    "rmt", "solvers", "__version__",
]
