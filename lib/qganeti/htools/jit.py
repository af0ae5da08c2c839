"""Compiled kernels, for problems big enough to repay numba's start-up.

htools.kernels is loaded a second time under another module name and
every function in that copy is replaced by numba.njit(cache=True) of
itself, so the compiled functions call each other compiled while the
plain module stays plain Python for everything else.  Compiled code is
cached in $NUMBA_CACHE_DIR, else in the user's cache directory
($XDG_CACHE_HOME or ~/.cache, then qganeti/numba).
"""

import importlib.util
import inspect
import os
import sys
import tempfile

from qganeti.htools import kernels

_MODULE = None


def cache_dir():
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                            ".cache")
    return os.path.join(base, "qganeti", "numba")


def _prepare_cache():
    path = cache_dir()
    try:
        os.makedirs(path, exist_ok=True)
        if not os.access(path, os.W_OK):
            raise OSError
    except OSError:
        path = os.path.join(tempfile.gettempdir(), "qganeti-numba-%d" % os.getuid())
        os.makedirs(path, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = path


def compiled_kernels():
    """The kernels module with every function compiled (lazily, per call
    signature, from the on-disk cache when it is there)."""
    global _MODULE
    if _MODULE is None:
        _prepare_cache()
        import numba
        spec = importlib.util.spec_from_file_location("qganeti.htools._kernels_jit",
                                                      kernels.__file__)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module     # numba's cache finds it by name
        spec.loader.exec_module(module)
        module.prange = numba.prange
        parallel = {"scan_moves"}
        for name, obj in list(vars(module).items()):
            if inspect.isfunction(obj) and obj.__module__ == module.__name__:
                setattr(module, name, numba.njit(cache=True, error_model="numpy",
                                                 parallel=name in parallel)(obj))
        _MODULE = module
    return _MODULE


class Compiled:
    """numpy copies of a Cluster's tables for the compiled search, kept in
    step with the lists after every committed move."""

    def __init__(self, cl):
        import numpy as np
        self.np = np
        self.kern = compiled_kernels()
        f8, i8 = np.float64, np.int64
        self.nf = np.array(cl.nf, dtype=f8)
        self.inf = np.array(cl.inf, dtype=f8)
        self.peers = np.array(cl.peers, dtype=f8)
        self.ptag = np.array(cl.ptag, dtype=i8)
        self.etag_ptr = np.array(cl.etag_ptr, dtype=i8)
        self.etag_ids = np.array(cl.etag_ids or [0], dtype=i8)
        self.loc = np.array(cl.loc or [0], dtype=i8)
        self.dsrd = np.array(cl.dsrd or [0], dtype=i8)
        self.mig = np.array(cl.mig or [0], dtype=i8)
        self.rmig = np.array(cl.rmig or [0], dtype=i8)
        from qganeti.htools.consts import NCOMP, NF
        self.chunks = 16
        self.scratch = np.zeros(self.chunks * self.kern.SCAN_ROWS * NF, dtype=f8)
        self.svals = np.zeros(self.chunks * self.kern.SCAN_ROWS * NCOMP, dtype=f8)
        self.nodes = np.zeros(3 * self.chunks, dtype=i8)
        self.voffs = np.zeros(3 * self.chunks, dtype=i8)

    def sync(self, cl, nodes, i):
        from qganeti.htools.consts import IF, NF
        nn, nt = cl.nnodes, cl.ntags
        for n in nodes:
            if n < 0:
                continue
            self.nf[n * NF:(n + 1) * NF] = cl.nf[n * NF:(n + 1) * NF]
            self.peers[n * nn:(n + 1) * nn] = cl.peers[n * nn:(n + 1) * nn]
            self.ptag[n * nt:(n + 1) * nt] = cl.ptag[n * nt:(n + 1) * nt]
        self.inf[i * IF:(i + 1) * IF] = cl.inf[i * IF:(i + 1) * IF]

    def scan(self, cl, cands, targets, vals, mean, c1, c2, cnt, sums, kinds, weights,
             flags, tol, gcount, buffer, modes, tmask, start):
        np = self.np
        f8, i8 = np.float64, np.int64
        chunks = self.chunks
        best = np.array([start])
        inst_best = np.zeros(len(cands))
        bests = np.zeros(chunks)
        count = np.zeros(chunks, dtype=i8)
        over = np.zeros(chunks, dtype=i8)
        buf_i = np.zeros(buffer * chunks, dtype=i8)
        buf_m = np.zeros(buffer * chunks, dtype=i8)
        buf_t = np.zeros(buffer * chunks, dtype=i8)
        buf_s = np.zeros(buffer * chunks, dtype=f8)
        gcount = np.array(gcount, dtype=i8)
        self.kern.scan_moves(
            chunks, self.nf, self.inf, np.array(cands, dtype=i8),
            np.array(targets, dtype=i8), np.array(vals, dtype=f8), np.array(mean, dtype=f8),
            np.array(c1, dtype=f8), np.array(c2, dtype=f8), np.array(cnt, dtype=f8),
            np.array(sums, dtype=f8), np.array(kinds, dtype=i8), np.array(weights, dtype=f8),
            self.peers, cl.nnodes, self.ptag, cl.ntags, self.etag_ptr, self.etag_ids,
            self.loc, self.dsrd, cl.words, self.mig, self.rmig, gcount,
            np.array(flags, dtype=i8), tol, best, buf_i, buf_m, buf_t, buf_s, count, over,
            self.scratch, self.svals, np.zeros(len(gcount) * chunks, dtype=i8), self.nodes,
            self.voffs, bests, np.array(modes, dtype=i8), np.array(tmask, dtype=i8),
            inst_best)
        entries = []
        for chunk in range(chunks):
            base = chunk * buffer
            entries.extend((int(buf_i[k]), int(buf_m[k]), int(buf_t[k]), float(buf_s[k]))
                           for k in range(base, base + int(count[chunk])))
        return int(over.max()), float(bests.min()), entries, inst_best.tolist()
