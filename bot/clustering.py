"""Story clusters: articles that tell the same story, found by MinHash over word 5-grams.

Each article's normalised text is cut into overlapping 5-word shingles; a MinHash signature
of `NUM_PERM` values estimates the Jaccard similarity of two shingle sets (the share of equal
values). Signatures are split into `BANDS` bands of `ROWS` values (locality-sensitive
hashing): two articles become candidates when one band is equal, which finds pairs above
roughly (1/BANDS)^(1/ROWS) ~ 0.5 similarity with one indexed query instead of comparing
against every article. Candidates at or above `CLUSTER_THRESHOLD` join one cluster
(`articles.cluster_id`); the store counts a cluster's distinct outlets for "reported by N".

The hash family is h(x) = (a*x + b) mod (2^61 - 1) over 32-bit shingle hashes, with fixed
seeds so signatures stored by one process compare with those of the next.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np

from bot.store.positions import normalise_text

if TYPE_CHECKING:
    from bot.store import Store

SHINGLE_WORDS = 5
NUM_PERM = 64
BANDS = 16
ROWS = NUM_PERM // BANDS
# Estimated Jaccard similarity of 5-gram sets from which two articles tell the same story.
CLUSTER_THRESHOLD = 0.5
# Same outlet and at least this similar (exact Jaccard, checked on the stored text after the
# signatures' estimate passes `SAME_ARTICLE_PREFILTER`): an edited copy of an article we have.
SAME_ARTICLE_THRESHOLD = 0.8
SAME_ARTICLE_PREFILTER = 0.6
# Only articles signed this recently are compared (stories are news for a few weeks).
WINDOW = timedelta(days=30)

_PRIME = np.uint64((1 << 61) - 1)
_SEEDS = np.random.default_rng(0x5EC0_2025).integers(
    1, 1 << 32, size=(2, NUM_PERM), dtype=np.uint64
)
_A = _SEEDS[0].reshape(-1, 1)
_B = _SEEDS[1].reshape(-1, 1)
_BLOCK = 2048  # shingles hashed per numpy step: bounds memory at NUM_PERM * _BLOCK * 8 bytes


@dataclass(frozen=True, eq=False)
class Fingerprint:
    """An article's MinHash signature and its LSH band hashes."""

    signature: np.ndarray  # NUM_PERM uint64 values

    @property
    def bands(self) -> list[int]:
        out = []
        for band in range(BANDS):
            chunk = self.signature[band * ROWS : (band + 1) * ROWS].astype("<u8").tobytes()
            digest = hashlib.blake2b(chunk, digest_size=8).digest()
            out.append(int.from_bytes(digest, "big", signed=True))
        return out

    def to_bytes(self) -> bytes:
        return self.signature.astype("<u8").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Fingerprint:
        return cls(np.frombuffer(data, dtype="<u8").astype(np.uint64))

    def similarity(self, other: Fingerprint) -> float:
        """Estimated Jaccard similarity of the two shingle sets."""
        return float(np.count_nonzero(self.signature == other.signature)) / NUM_PERM


def shingle_hashes(text: str) -> np.ndarray:
    """32-bit hashes of the distinct word 5-grams of the normalised text."""
    words = normalise_text(text).split()
    if not words:
        return np.empty(0, dtype=np.uint64)
    if len(words) < SHINGLE_WORDS:
        grams = {" ".join(words)}
    else:
        grams = {
            " ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)
        }
    return np.fromiter((zlib.crc32(g.encode()) for g in grams), dtype=np.uint64, count=len(grams))


def fingerprint(text: str) -> Fingerprint | None:
    """The MinHash fingerprint of a text, or None when it has no words."""
    hashes = shingle_hashes(text)
    if hashes.size == 0:
        return None
    signature = np.full(NUM_PERM, np.iinfo(np.uint64).max, dtype=np.uint64)
    for start in range(0, hashes.size, _BLOCK):
        block = hashes[start : start + _BLOCK].reshape(1, -1)
        # a, b and x are below 2^32, so a*x + b stays below 2^64: no overflow.
        permuted = (_A * block + _B) % _PRIME
        np.minimum(signature, permuted.min(axis=1), out=signature)
    return Fingerprint(signature)


async def find_same_article(
    store: Store, text: str, outlet: str | None, print_: Fingerprint | None = None
) -> str | None:
    """Key of a stored article from the same outlet that is nearly this text (an edited or
    re-dated copy), or None."""
    print_ = print_ or fingerprint(text)
    if not outlet or print_ is None:
        return None
    since = store.clock() - WINDOW
    mine: set[int] | None = None
    for candidate in await store.band_candidates(print_.bands, since):
        if candidate.outlet != outlet:
            continue
        estimate = print_.similarity(Fingerprint.from_bytes(candidate.signature))
        if estimate < SAME_ARTICLE_PREFILTER:
            continue
        stored = await store.get_article(candidate.key)
        if stored is None:
            continue
        if mine is None:
            mine = set(shingle_hashes(text).tolist())
        if jaccard(mine, set(shingle_hashes(stored.text).tolist())) >= SAME_ARTICLE_THRESHOLD:
            return candidate.key
    return None


def jaccard(a: set[int], b: set[int]) -> float:
    """Exact Jaccard similarity of two shingle sets."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


async def cluster_article(
    store: Store, key: str, text: str, print_: Fingerprint | None = None
) -> int | None:
    """Sign a stored article and join it to the cluster of the stories it matches; returns
    its cluster id (None when it matches nothing yet)."""
    found = await store.article_pk(key)
    if found is None:
        return None
    pk = found[0]
    print_ = print_ or fingerprint(text)
    if print_ is None:
        return None
    since = store.clock() - WINDOW
    join = [
        candidate.pk
        for candidate in await store.band_candidates(print_.bands, since, exclude_pk=pk)
        if print_.similarity(Fingerprint.from_bytes(candidate.signature)) >= CLUSTER_THRESHOLD
    ]
    return await store.save_signature(pk, print_.to_bytes(), print_.bands, join)


async def cluster_pending(store: Store, limit: int = 500) -> int:
    """Sign and cluster articles that came in without a signature (files, the demo corpus);
    returns how many were signed."""
    done = 0
    while True:
        batch = await store.unsigned_articles(limit)
        if not batch:
            return done
        for _pk, article in batch:
            print_ = fingerprint(article.text)
            if print_ is None:
                # Nothing to compare: store an empty marker so it is not picked up again.
                found = await store.article_pk(article.id)
                if found:
                    await store.save_signature(found[0], b"", [], [])
            else:
                await cluster_article(store, article.id, article.text, print_)
            done += 1
