"""kernels.score_pairs (alloc.Kernels.pairs), plain and compiled, gives
every pair of a DRBD request the answer and the score of Ganeti's
allocateOnPair (alloc.allocate_on_pair): where a secondary's half is
worked out once for all primaries (the memory it reserves for the primary
stays within the node's reserve) and where it is not."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import htools_gen  # noqa: E402
from qganeti.htools import alloc, ialloc, metrics  # noqa: E402
from qganeti.htools.cluster import add_instance  # noqa: E402
from qganeti.htools.consts import I_MEMORY, I_SEC_MEM, IF, NF, OK, R_MEM  # noqa: E402

# nodes, instances, seed, memory of the new instance (MiB)
CASES = [(10, 60, 1, 4096), (12, 90, 2, 8192), (9, 50, 3, 2048), (14, 100, 4, 16384),
         (8, 40, 5, 30000)]


def request(nodes, insts, seed, mem):
    text = htools_gen.squeeze_memory(htools_gen.generate(nodes, insts, "drbd", seed), seed)
    req = htools_gen.new_instance_request("new1", mem, 10240, 1, "drbd", 2)
    cl, parsed = ialloc.parse(htools_gen.to_request(text, req))
    i = add_instance(cl, parsed.inst)
    kind, targets = alloc.gen_alloc_nodes(cl, list(range(cl.nnodes)), 2, alloc.Options())
    _, batch = alloc._policy_batch(cl, i, targets)
    return cl, i, batch


def pair_by_pair(cl, i, batch):
    """[(answer, score or None)] of allocate_on_pair, pair by pair."""
    stats = metrics.cluster_stats(cl, list(range(cl.nnodes)))
    out = []
    for p, secondaries in batch:
        for s in secondaries:
            got = alloc.allocate_on_pair(cl, stats, i, p, s, False)
            out.append((OK, got.score) if isinstance(got, alloc.Alloc) else (got, None))
    return out


def raises_reserve(cl, i, p, s):
    """Whether the pair's secondary reserves more than the node already does."""
    sec_mem = cl.inf[i * IF + I_MEMORY] if cl.inf[i * IF + I_SEC_MEM] else 0.0
    return cl.peers[s * cl.nnodes + p] + sec_mem > cl.nf[s * NF + R_MEM]


@pytest.mark.parametrize("compiled", [False, True], ids=["plain", "compiled"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_pair_scores_are_allocate_on_pair_s(case, compiled, monkeypatch):
    cl, i, batch = request(*case)
    kernels = alloc.Kernels()
    if compiled:
        kernels.spent = float("inf")        # past any switch: compiled from the start
    else:
        monkeypatch.setattr(alloc.Kernels, "SWITCH_AFTER", float("inf"))
        monkeypatch.setattr(alloc.Kernels, "AOT_SWITCH_AFTER", float("inf"))
    scored = kernels.pairs(cl, list(range(cl.nnodes)), i, 0.0, batch, False)
    assert (kernels.kern is not None) == compiled
    rcs, scores = scored.results()
    got = [(rc, scores[j] if rc == OK else None) for j, rc in enumerate(rcs)]
    assert got == pair_by_pair(cl, i, batch)
    oks = [j for j, rc in enumerate(rcs) if rc == OK]
    if oks:
        low = min(scores[j] for j in oks)
        assert scored.best == max(j for j in oks if scores[j] == low)
    else:
        assert scored.best == -1


def test_both_kinds_of_secondary_half_are_exercised():
    """The cases above have pairs that fit, on secondaries whose reserve
    the pair raises and on ones whose reserve it leaves."""
    seen = set()
    for case in CASES:
        cl, i, batch = request(*case)
        for (p, s), (rc, _) in zip([(p, s) for p, ss in batch for s in ss],
                                   pair_by_pair(cl, i, batch)):
            if rc == OK:
                seen.add(raises_reserve(cl, i, p, s))
    assert seen == {True, False}
