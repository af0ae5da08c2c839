"""The quick global N+1 check of allocation (htools.globaln1) gives the
same answer as evacuating every node by trial, for every candidate."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import htools_gen  # noqa: E402
from qganeti.htools import alloc, globaln1, ialloc  # noqa: E402
from qganeti.htools.cluster import add_instance  # noqa: E402


def candidates(cl, i, count, opts):
    nodes = list(range(cl.nnodes))
    kind, targets = alloc.gen_alloc_nodes(cl, nodes, count, opts)
    out = []
    if kind == 2:
        import qganeti.htools.metrics as metrics
        stats = metrics.cluster_stats(cl, nodes)
        for p, secondaries in targets:
            for s in secondaries:
                result = alloc.allocate_on_pair(cl, stats, i, p, s, False)
                if isinstance(result, alloc.Alloc):
                    out.append(result)
    else:
        for p in targets:
            result = alloc.allocate_on_single(cl, nodes, i, p, False)
            if isinstance(result, alloc.Alloc):
                out.append(result)
    return out


def by_trial(cl, i, a, opts, tried):
    from qganeti.htools import moves
    journal = moves.Journal(cl)
    alloc.place(cl, i, a, journal)
    try:
        return all(alloc.can_evacuate(cl, n, opts) for n in tried)
    finally:
        journal.restore()


CASES = [(12, 90, "drbd", 1, 1, 0, False), (10, 70, "drbd", 2, 2, 1, False),
         (12, 60, "mixed", 3, 1, 0, False), (9, 50, "drbd", 4, 1, 1, True),
         (14, 110, "drbd", 5, 1, 0, True), (8, 30, "mixed", 6, 2, 1, True),
         (16, 120, "drbd", 7, 1, 0, True)]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("template,count,mem", [("drbd", 2, 4096), ("plain", 1, 8192),
                                                ("drbd", 2, 30000)])
def test_quick_check_agrees_with_trial(case, template, count, mem):
    nodes, insts, gen_template, seed, groups, accept, tight = case
    text = htools_gen.generate(nodes, insts, gen_template, seed, groups, tags=seed % 2 == 0,
                               offline=seed % 3 == 0)
    if tight:
        text = htools_gen.squeeze_memory(text, seed)
    req = htools_gen.new_instance_request("new1", mem, 10240, 1, template, count)
    cl, parsed = ialloc.parse(htools_gen.to_request(text, req))
    i = add_instance(cl, parsed.inst)
    opts = alloc.Options(accept_existing=bool(accept))
    evac = alloc.evacuees(cl, list(range(cl.nnodes)), opts)
    fast = globaln1.FastN1(cl, evac)
    for a in candidates(cl, i, count, opts):
        expected = by_trial(cl, i, a, opts, evac)
        got = fast.good(i, a, lambda tried, a=a: by_trial(cl, i, a, opts, tried))
        assert got == expected, (a.nodes, expected)


def test_both_answers_are_exercised():
    """The cases above include redundant and non-redundant placements."""
    seen = set()
    for nodes, insts, gen_template, seed, groups, accept, tight in CASES:
        text = htools_gen.generate(nodes, insts, gen_template, seed, groups)
        if tight:
            text = htools_gen.squeeze_memory(text, seed)
        req = htools_gen.new_instance_request("new1", 4096, 10240, 1, "drbd", 2)
        cl, parsed = ialloc.parse(htools_gen.to_request(text, req))
        i = add_instance(cl, parsed.inst)
        opts = alloc.Options()
        evac = alloc.evacuees(cl, list(range(cl.nnodes)), opts)
        for a in candidates(cl, i, 2, opts):
            seen.add(by_trial(cl, i, a, opts, evac))
    assert seen == {True, False}
