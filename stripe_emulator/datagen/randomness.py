"""Counter-based randomness: every value is a hash of (seed, entity, field), never a stream position.

So a row's values depend only on the seed and the row's own key, not on how many other rows were
drawn before it, which is what lets a day's data stay the same however many days are generated.
"""

from __future__ import annotations

import math
import zlib
from statistics import NormalDist
from typing import Any

import numpy as np

U64 = np.uint64
MASK = 0xFFFFFFFFFFFFFFFF


def mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijection on 64-bit integers whose output looks random."""
    with np.errstate(over="ignore"):
        x = x + U64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> U64(30))) * U64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> U64(27))) * U64(0x94D049BB133111EB)
        return x ^ (x >> U64(31))


def seed_salt(seed: int) -> int:
    """The 64-bit salt every hash of ``seed`` is mixed with."""
    return int(mix(np.array([seed & MASK], dtype=np.uint64))[0])


def key(kind: int, payload: np.ndarray) -> np.ndarray:
    """Entity keys: the entity kind in the top byte, the kind's own payload below it."""
    return (U64(kind) << U64(56)) | payload.astype(np.uint64)


class Draws:
    """The random values and id numbers of one seed."""

    def __init__(self, seed: int) -> None:
        self.salt = seed_salt(seed)

    def uniform(self, keys: np.ndarray, field: str) -> np.ndarray:
        """A uniform number in [0, 1) per key, stable for a seed, key and field."""
        salt = mix(np.array([(zlib.crc32(field.encode()) * 0x9E3779B1 + self.salt) & MASK], dtype=np.uint64))[
            0
        ]
        return (mix(keys ^ salt) >> U64(11)).astype(np.float64) * (1.0 / (1 << 53))

    def normal(self, keys: np.ndarray, field: str) -> np.ndarray:
        """A standard normal number per key (Box-Muller over two uniform fields)."""
        u1 = 1.0 - self.uniform(keys, field + ".1")
        u2 = self.uniform(keys, field + ".2")
        return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)

    def id(self, kind: int, payload: np.ndarray) -> np.ndarray:
        """The number behind an entity's id: distinct for every (kind, payload)."""
        return mix(key(kind, payload) ^ U64(self.salt))


def choice(u: np.ndarray, weights: Any) -> np.ndarray:
    """The index each uniform ``u`` picks among ``weights`` (need not sum to one)."""
    cumulative = np.cumsum(np.asarray(weights, dtype=float))
    cumulative /= cumulative[-1]
    return np.minimum(np.searchsorted(cumulative, u, side="right"), len(cumulative) - 1)


def choice_rows(u: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Like :func:`choice` with a different weight vector per row (rows of ``weights``)."""
    cumulative = np.cumsum(weights, axis=1)
    cumulative /= cumulative[:, -1:]
    return np.minimum((u[:, None] >= cumulative).sum(axis=1), weights.shape[1] - 1)


def poisson(lam: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Poisson counts by inverting the CDF at ``u`` (exact below 200, normal approximation above)."""
    out = np.zeros(len(lam), dtype=np.int64)
    small = lam < 200
    if small.any():
        rate, target = lam[small], u[small]
        count = np.zeros(len(rate), dtype=np.int64)
        term = np.exp(-rate)
        cdf = term.copy()
        for k in range(1, int(rate.max() + 12 * math.sqrt(rate.max()) + 30)):
            above = target > cdf
            if not above.any():
                break
            count += above
            term = term * rate / k
            cdf = cdf + term
        out[small] = count
    if (~small).any():
        normal = NormalDist()
        z = np.array([normal.inv_cdf(min(max(float(x), 1e-12), 1 - 1e-12)) for x in u[~small]])
        out[~small] = np.maximum(0, np.rint(lam[~small] + np.sqrt(lam[~small]) * z)).astype(np.int64)
    return out
