"""The compiled search against the plain one: hbal's plain-Python search
is the one the differential tests hold to Ganeti's; the compiled kernels
(numba) take shortcuts of their own (rows shared between moves, sums
prepared per instance, an exact score from the step's node values), so
on the same input both must print the same plan.  And the exact score
kernel must give metrics.comp_cv's bits."""
import contextlib
import glob
import io
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import htools_gen  # noqa: E402
from qganeti.htools import balance, hbal, jit, kernels, metrics, moves, text  # noqa: E402
from qganeti.htools.cluster import LoadError  # noqa: E402
from qganeti.htools.consts import (  # noqa: E402
    KINDS, MV_FAILOVER, MV_REPLACE_AND_FAILOVER, MV_REPLACE_PRIMARY, MV_REPLACE_SECONDARY,
    MV_FAILOVER_AND_REPLACE, NCOMP, NF, OFFLINE, OK, WEIGHTS)

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "ganeti", "htools")
if not os.path.isdir(DATA):
    DATA = "/work/shared/reference/ganeti-testdata/htools"
TEXT_FILES = sorted(glob.glob(os.path.join(DATA, "*.data")))


def _hbal(argv, kind, monkeypatch):
    """hbal's stdout with the search forced plain, compiled ahead of time
    ("built"), by numba, or built first and numba's after the first step
    ("switch")."""
    monkeypatch.setattr(balance, "COMPILE_THRESHOLD", 10 ** 12 if kind == "plain" else -1)
    monkeypatch.setattr(balance, "SWITCH_AFTER", 10 ** 9)
    monkeypatch.setattr(balance, "PARALLEL_THRESHOLD", 10 ** 12 if kind == "built" else -1)
    monkeypatch.setattr(balance, "PARALLEL_SWITCH_AFTER", 0.0 if kind == "switch" else 10 ** 9)
    monkeypatch.setattr(jit, "USE_AOT", kind in ("built", "switch"))
    made = []

    class Recorded(jit.Compiled):
        def __init__(self, cl, parallel=False):
            super().__init__(cl, parallel)
            made.append(self.kern.__name__)
    monkeypatch.setattr(jit, "Compiled", Recorded)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        rc = hbal.run(argv)
    expected = {"plain": [], "built": ["qganeti.htools._kernels_built"],
                "numba": ["qganeti.htools._kernels_jit"],
                "switch": ["qganeti.htools._kernels_built", "qganeti.htools._kernels_jit"]}
    if "Solution length=0" not in out.getvalue():   # a first step was searched
        assert made == expected[kind]
    return rc, out.getvalue()


@pytest.mark.parametrize("spec", [
    dict(nodes=24, instances=260, template="drbd", seed=11),
    dict(nodes=20, instances=200, template="mixed", seed=12, offline=1),
    dict(nodes=18, instances=180, template="drbd", seed=13, tags=True),
    dict(nodes=16, instances=150, template="ext", seed=14),
], ids=lambda s: "%(template)s-%(seed)d" % s)
def test_compiled_search_prints_the_plain_plan(spec, tmp_path, monkeypatch):
    path = tmp_path / "cluster.data"
    path.write_text(htools_gen.generate(**spec))
    for options in ([], ["--exclusion-tags", "service", "-l", "8"],
                    ["--ignore-soft-errors", "-l", "15"]):
        argv = ["-t", str(path), "-l", "25", "-C"] + options
        plain = _hbal(argv, "plain", monkeypatch)
        assert _hbal(argv, "built", monkeypatch) == plain
        assert _hbal(argv, "numba", monkeypatch) == plain
        assert _hbal(argv, "switch", monkeypatch) == plain
        assert "Solution length" in plain[1] or "No solution" in plain[1] or \
            "already well balanced" in plain[1]


def test_make_built_the_kernels_of_this_source(monkeypatch):
    """`make` compiles the kernels ahead of time; htools use that module
    while it matches kernels.py (numba's for a parallel scan)."""
    monkeypatch.setattr(jit, "_AOT_CURRENT", None)
    assert jit.aot_built(), "run make: lib/qganeti/htools/_kernels_aot is missing or stale"
    module = jit.compiled_kernels()
    assert module.__name__ == "qganeti.htools._kernels_built"
    assert all(callable(getattr(module, name)) for name in kernels.ENTRY_POINTS)
    assert jit.compiled_kernels(parallel=True).__name__ == "qganeti.htools._kernels_jit"


def test_a_stale_build_is_not_used(tmp_path, monkeypatch):
    source = tmp_path / "kernels.py"
    source.write_text(open(kernels.__file__).read() + "# changed\n")
    monkeypatch.setattr(kernels, "__file__", str(source))
    monkeypatch.setattr(jit, "_AOT_CURRENT", None)
    assert not jit.aot_built()
    assert jit.compiled_kernels().__name__ == "qganeti.htools._kernels_jit"


def test_a_built_module_that_does_not_load_leaves_numba(monkeypatch):
    monkeypatch.setattr(jit, "_AOT_CURRENT", True)
    monkeypatch.setattr(jit, "_AOT_MODULE", None)
    monkeypatch.setattr(jit, "AOT_NAME", "_kernels_aot_missing")
    assert jit.compiled_kernels().__name__ == "qganeti.htools._kernels_jit"
    assert not jit.aot_built()
    monkeypatch.setattr(jit, "_AOT_CURRENT", None)


def _cluster(path):
    cl = text.load(path)
    cl.finish([], [], [], [], False)
    return cl


@pytest.mark.parametrize("path", TEXT_FILES, ids=os.path.basename)
def test_exact_cv_gives_comp_cv_bits(path):
    try:
        cl = _cluster(path)
    except LoadError:
        pytest.skip("not a loadable cluster")
    if cl.etag_ids and any(cl.loc):
        pytest.skip("the location/exclusion component is computed elsewhere")
    _check_exact(cl)


def _check_exact(cl):
    nodes = list(range(cl.nnodes))
    vals = [0.0] * (max(1, cl.nnodes) * NCOMP)
    for n in nodes:
        kernels.node_values(cl.nf, n * NF, vals, n * NCOMP)
    assert kernels.exact_cv(cl.nf, nodes, vals, KINDS, WEIGHTS, [-1], [0.0], 0,
                            [0.0] * (3 * NCOMP), 0.0) == metrics.comp_cv(cl, nodes)
    scratch = moves.Scratch()
    tried = 0
    for i in range(cl.ninsts):
        for move in (MV_FAILOVER, MV_REPLACE_SECONDARY, MV_REPLACE_AND_FAILOVER,
                     MV_REPLACE_PRIMARY, MV_FAILOVER_AND_REPLACE):
            for tdx in nodes[:6]:
                if cl.nf[tdx * NF + OFFLINE] or tdx in cl.inst_nodes(i):
                    continue
                rc, _, rows = moves.move_rows(cl, i, move, tdx, True, scratch)
                if rc != OK or not rows:
                    continue
                onodes = [n for n, _ in rows] + [-1]
                orows = [x for _, row in rows for x in row]
                got = kernels.exact_cv(cl.nf, nodes, vals, KINDS, WEIGHTS, onodes, orows,
                                       len(rows), [0.0] * (3 * NCOMP), 0.0)
                want = metrics.comp_cv(cl, nodes, dict(rows))
                assert got == want or (got != got and want != want), (i, move, tdx)
                tried += 1
    return tried


def test_exact_cv_on_a_generated_cluster(tmp_path):
    path = tmp_path / "cluster.data"
    path.write_text(htools_gen.generate(12, 90, "mixed", seed=5, offline=1))
    assert _check_exact(_cluster(str(path))) > 100
