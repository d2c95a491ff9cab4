"""Kendall's tau between head-importance matrices (GradTS 3.2; Puth et al., 2015).

Task-to-task taus use scipy's ``kendalltau`` (tau-b). Instance-to-task taus (GradTS-fg scores every
auxiliary training instance) use ``kendall_tau_b_many``, the same tau-b computed for many rows at
once from the pairwise sign matrices: tau_b = sum(sx * sy) / sqrt(sum(sx^2) * sum(sy^2)), where
sx, sy are sign(x_i - x_j) over the pairs i < j; tests check it equals scipy to 1e-6.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import kendalltau


def kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-b of two flattened matrices; 0.0 when either is constant (tau undefined)."""
    tau = kendalltau(np.asarray(a).ravel(), np.asarray(b).ravel()).statistic
    return 0.0 if tau is None or math.isnan(tau) else float(tau)


def kendall_tau_b_many(rows: np.ndarray, ref: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Tau-b of each row of ``rows`` ([N, ...], flattened per row) against ``ref``; 0.0 where undefined."""
    x = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
    y = np.asarray(ref, dtype=np.float64).ravel()
    i, j = np.triu_indices(y.size, k=1)
    sy = np.sign(y[i] - y[j])
    ny = float((sy * sy).sum())
    out = np.zeros(len(x), dtype=np.float64)
    for s in range(0, len(x), chunk):
        sx = np.sign(x[s : s + chunk, i] - x[s : s + chunk, j])
        num = sx @ sy
        den = np.sqrt((sx * sx).sum(1) * ny)
        out[s : s + chunk] = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return out


def correlation_matrix(matrices: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """Kendall's tau between every pair of tasks (GradTS Figure 4)."""
    names = list(matrices)
    n = len(names)
    out = np.eye(n)
    for a in range(n):
        for b in range(a + 1, n):
            out[a, b] = out[b, a] = kendall_tau(matrices[names[a]], matrices[names[b]])
    return names, out
