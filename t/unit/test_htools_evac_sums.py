"""Deciding the global N+1 check's evacuations by sums (alloc's
EvacSums, _fit_verdict) and by the move_singles and place_singles
kernels gives the answer of moving and re-creating the instances one
by one, as Ganeti does."""
import random

import pytest

from qganeti.htools import alloc, jit, text


def diskless_cluster(nodes, seed, free, sizes):
    """Nodes with little free memory, each the primary of a few diskless
    instances (the global N+1 check moves them away), file ones (it
    re-creates those elsewhere) and DRBD ones (failed over first), in the
    text format."""
    rng = random.Random(seed)
    names = ["node-%02d" % n for n in range(nodes)]
    lines_n = ["%s|65536|1024|%d|4194304|2097152|16|%s|fake-uuid-01|1" % (
        name, rng.choice(free),
        "M" if n == 0 else "N") for n, name in enumerate(names)]
    lines_i = []
    for n, name in enumerate(names):
        for k in range(rng.randrange(12)):
            lines_i.append("dl-%02d-%d|%d|1024|1|running|Y|%s||%s||1" % (
                n, k, rng.choice(sizes), name, rng.choice(["diskless", "file"])))
        for k in range(rng.randrange(3)):
            other = rng.choice([m for m in names if m != name])
            lines_i.append("dr-%02d-%d|%d|10240|1|running|Y|%s|%s|drbd||1" % (
                n, k, rng.choice([512, 1024, 2048]), name, other))
    return "\n".join(["group-01|fake-uuid-01|preferred||\n", "\n".join(lines_n) + "\n",
                      "\n".join(lines_i) + "\n", ""])


def load(nodes, seed, free, sizes):
    cl = text.parse(diskless_cluster(nodes, seed, free, sizes))
    cl.finish()
    return cl


def by_trial(cl, n, monkeypatch, kernel):
    """can_evacuate moving and re-creating the instances one by one
    (evac_one_node, best_single), or by the move_singles and
    place_singles kernels; neither by sums."""
    with monkeypatch.context() as patch:
        patch.setattr(alloc, "_evacuation_by_sums", lambda *args: None)
        patch.setattr(alloc, "surely_placed", lambda *args, **kwargs: None)
        if not kernel:
            patch.setattr(alloc.KERNELS, "place_all", lambda *args: None)
            patch.setattr(alloc.KERNELS, "move_all", lambda *args: (None, None))
        return alloc.can_evacuate(cl, n, alloc.Options())


# free memory (MiB) to choose from, diskless instances' sizes: a varied
# cluster, and one whose instances just fit
SHAPES = [((0, 2560, 5120, 7680, 10240, 20480), (1024, 2048)),
          ((5120, 7168), (2048,))]
CASES = [(nodes, seed) + shape for seed in range(1, 9) for nodes in (4, 7, 12)
         for shape in SHAPES]


def answers(case, monkeypatch):
    """(node, by sums or None, by the kernel, one by one) for each node."""
    cl = load(*case)
    sums = alloc.EvacSums(cl)
    out = []
    for n in range(cl.nnodes):
        out.append((n, alloc._evacuation_by_sums(cl, n, sums),
                    by_trial(cl, n, monkeypatch, True), by_trial(cl, n, monkeypatch, False)))
    return out


@pytest.mark.parametrize("case", CASES, ids=str)
def test_sums_and_kernel_agree_with_one_by_one(case, monkeypatch):
    for n, sums, kernel, expected in answers(case, monkeypatch):
        assert kernel == expected, n
        assert sums in (None, expected), n


def test_every_kind_of_answer_is_exercised(monkeypatch):
    """The cases above have nodes the sums call evacuable, nodes they call
    not evacuable, nodes they leave to the trial, and both answers."""
    seen = set()
    for case in CASES:
        for _, sums, _, expected in answers(case, monkeypatch):
            seen.add((sums, expected))
    assert {(True, True), (False, False), (None, True), (None, False)} <= seen, seen


@pytest.mark.parametrize("kind", ["built", "numba"])
@pytest.mark.parametrize("case", CASES[:6], ids=str)
def test_compiled_kernels_agree(case, kind, monkeypatch):
    """Once the allocation kernels are compiled (built ahead of time, or by
    numba for a big cluster) they place the instances as the plain ones do."""
    plain = alloc.Kernels()
    plain.SWITCH_AFTER = plain.AOT_SWITCH_AFTER = float("inf")
    monkeypatch.setattr(alloc, "KERNELS", plain)
    expected = [(n, kernel) for n, _, kernel, _ in answers(case, monkeypatch)]
    assert plain.kern is None
    monkeypatch.setattr(jit, "USE_AOT", kind == "built")
    compiled = alloc.Kernels()
    compiled.spent = compiled.SWITCH_AFTER + 1.0
    monkeypatch.setattr(alloc, "KERNELS", compiled)
    assert [(n, kernel) for n, _, kernel, _ in answers(case, monkeypatch)] == expected
    assert compiled.kern is not None
    assert (compiled.kern.__name__ == "qganeti.htools._kernels_built") == (kind == "built")
