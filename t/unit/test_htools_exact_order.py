"""hspace orders the candidate placements by their estimated scores and
scores in full only the ones it reaches (alloc._by_exact_score): the
order must be the one of the full scores, ties to the later candidate."""
import math
import random

from qganeti.htools import alloc


def full_order(oks, exact):
    """collection_to_solution's own order of the full scores."""
    return sorted(reversed([(exact(k), k) for _, k in oks]), key=lambda ok: ok[0])


def candidates(seed):
    """(oks, exact): full scores with many exact ties (identical nodes),
    estimates off by up to 3e-9 (the worst seen) in either direction."""
    rng = random.Random(seed)
    levels = [rng.choice([0.5, 1.25, 7.0]) + rng.choice([0.0, 1e-7, 2e-6, 1e-3])
              for _ in range(6)]
    scores = [rng.choice(levels) for _ in range(40)]
    oks = [(score + rng.uniform(-3e-9, 3e-9), k) for k, score in enumerate(scores)]
    return oks, scores.__getitem__


def test_same_order_as_full_scores():
    for seed in range(200):
        oks, exact = candidates(seed)
        assert list(alloc._by_exact_score(oks, exact)) == full_order(oks, exact)


def test_non_finite_estimates_score_all():
    oks = [(1.0, 0), (math.inf, 1), (0.5, 2)]
    scores = [1.0, 0.25, 0.5]
    assert list(alloc._by_exact_score(oks, scores.__getitem__)) == \
        full_order(oks, scores.__getitem__)


def test_scores_only_what_is_asked():
    scored = []
    scores = [3.0, 1.0, 2.0, 1.0 + 1e-12]

    def exact(k):
        scored.append(k)
        return scores[k]
    first = next(alloc._by_exact_score([(s, k) for k, s in enumerate(scores)], exact))
    assert first == (1.0, 1)
    assert sorted(scored) == [1, 3]         # the best run only
