"""Compiled kernels: built ahead of time, or by numba at run time.

`make` builds the kernels into an extension module (htools.build_kernels)
that loads in milliseconds; it serves every problem unless it is missing,
built from another kernels.py, or the problem is big enough to repay
numba's start-up for a parallel scan (parallel=True).

For numba, htools.kernels is loaded a second time under another module name and
every function in that copy is replaced by numba.njit(cache=True) of
itself, so the compiled functions call each other compiled while the
plain module stays plain Python for everything else.  Compiled code is
cached in $NUMBA_CACHE_DIR, else in the user's cache directory
($XDG_CACHE_HOME or ~/.cache, then qganeti/numba).
"""

import hashlib
import importlib
import os
import sys
import types

from qganeti.htools import kernels
from qganeti.htools.consts import OK

_MODULE = None          # numba's kernels, once compiled
_AOT_CURRENT = None     # whether the module built ahead of time matches
_AOT_MODULE = None
USE_AOT = True      # tests turn it off to check numba's kernels
AOT_NAME = "_kernels_aot"


def kernels_digest():
    with open(kernels.__file__, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def aot_stamp():
    """The file naming the kernels.py the built module was built from."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), AOT_NAME + ".stamp")


def aot_built():
    """True when the kernels built ahead of time are there and were built
    from this kernels.py (a stale module is ignored, not trusted)."""
    global _AOT_CURRENT
    if not USE_AOT:
        return False
    if _AOT_CURRENT is None:
        try:
            with open(aot_stamp(), encoding="ascii") as handle:
                _AOT_CURRENT = handle.read().strip() == kernels_digest()
        except OSError:
            _AOT_CURRENT = False
    return _AOT_CURRENT


def _aot_kernels():
    """The plain kernels module's names, its entry points replaced by the
    ones built ahead of time; None (and numba from then on) when the built
    module does not load."""
    global _AOT_MODULE, _AOT_CURRENT
    if _AOT_MODULE is None:
        try:
            built = importlib.import_module("qganeti.htools." + AOT_NAME)
        except ImportError:
            _AOT_CURRENT = False
            return None
        module = types.ModuleType("qganeti.htools._kernels_built")
        module.__dict__.update((name, value) for name, value in vars(kernels).items()
                               if not name.startswith("__"))
        for name in kernels.ENTRY_POINTS:
            setattr(module, name, getattr(built, name))
        _AOT_MODULE = module
    return _AOT_MODULE


def cache_dir():
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                            ".cache")
    return os.path.join(base, "qganeti", "numba")


def _prepare_cache():
    import tempfile
    path = cache_dir()
    try:
        os.makedirs(path, exist_ok=True)
        if not os.access(path, os.W_OK):
            raise OSError
    except OSError:
        path = os.path.join(tempfile.gettempdir(), "qganeti-numba-%d" % os.getuid())
        os.makedirs(path, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = path


def compiled_kernels(parallel=False):
    """The kernels module with every function compiled: built ahead of
    time if it can be, else by numba (lazily, per call signature, from the
    on-disk cache when it is there; scan_moves runs in parallel)."""
    if not parallel and aot_built() and _aot_kernels() is not None:
        return _AOT_MODULE
    global _MODULE
    if _MODULE is None:
        _prepare_cache()
        # many short parallel scans: OpenMP threads that spin between them
        # starve the Python work in between (and everything else) on a
        # busy 2-core machine; passive threads sleep at once
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import importlib.util
        import inspect
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
                inline = "always" if name in module.COMPILED_INLINE else "never"
                setattr(module, name, numba.njit(cache=True, error_model="numpy",
                                                 parallel=name in parallel,
                                                 inline=inline)(obj))
        for name, fast in module.COMPILED_ONLY.items():
            setattr(module, name, getattr(module, fast))
        _MODULE = module
    return _MODULE


class Compiled:
    """numpy copies of a Cluster's tables for the compiled search, kept in
    step with the lists after every committed move."""

    def __init__(self, cl, parallel=False):
        import numpy as np
        self.np = np
        self.kern = compiled_kernels(parallel)
        self.parallel = parallel or not aot_built()
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
        from qganeti.htools.balance import TOPK
        self.topk = TOPK
        self.ksnap = np.zeros(TOPK * self.chunks, dtype=i8)
        self.tbest = np.zeros(self.chunks, dtype=f8)
        self.bases = np.zeros(self.chunks * self.kern.B_ARRAYS * 4 * NCOMP, dtype=f8)
        self.bests = np.zeros(self.chunks, dtype=f8)
        self.count = np.zeros(self.chunks, dtype=i8)
        self.over = np.zeros(self.chunks, dtype=i8)
        self.gtmp = np.zeros(0, dtype=i8)
        self.buffer = None
        self.ovals = np.zeros(3 * NCOMP, dtype=f8)
        self.mrows = np.zeros(6 * NF, dtype=f8)
        self.mnodes = np.zeros(4, dtype=i8)

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

    def move_cv(self, cl, arr, i, move, tdx, force):
        """exact_cv after the move of instance i, or None when it fails."""
        score = self.kern.move_cv(
            self.nf, self.inf, i, move, tdx, force, self.peers, cl.nnodes, self.ptag, cl.ntags,
            self.etag_ptr, self.etag_ids, self.loc, self.dsrd, cl.words, self.mig, self.rmig,
            self.mrows, self.mnodes, arr.nodes, arr.vals, arr.kinds, arr.weights, self.ovals)
        return float(score) if self.mnodes[3] == OK else None

    def scan(self, cl, arr, cands, targets, vals, mean, c1, c2, cnt, sums, kinds, weights,
             flags, tol, gcount, buffer, modes, tmask, start):
        np = self.np
        chunks = self.chunks
        if self.buffer != buffer:
            self.buffer = buffer
            self.buf_i = np.empty(buffer * chunks, dtype=np.int64)
            self.buf_m = np.empty(buffer * chunks, dtype=np.int64)
            self.buf_t = np.empty(buffer * chunks, dtype=np.int64)
            self.buf_s = np.empty(buffer * chunks, dtype=np.float64)
        if len(self.gtmp) != len(gcount) * chunks:
            self.gtmp = np.zeros(len(gcount) * chunks, dtype=np.int64)
        best = np.array([start])
        tlist = np.flatnonzero(tmask).astype(np.int64)
        self.kern.scan_moves(
            chunks, self.nf, self.inf, cands, targets, vals, mean, c1, c2, cnt, sums, kinds,
            weights, self.peers, cl.nnodes, self.ptag, cl.ntags, self.etag_ptr, self.etag_ids,
            self.loc, self.dsrd, cl.words, self.mig, self.rmig, gcount, flags, tol, best,
            self.buf_i, self.buf_m, self.buf_t, self.buf_s, self.count, self.over,
            self.scratch, self.svals, self.gtmp, self.nodes, self.voffs, self.bests, modes,
            tmask, self.topk, arr.topt, arr.tops, arr.rest, arr.fo, arr.off, arr.known,
            self.ksnap, self.tbest, tlist, arr.tnode, self.bases)
        entries = []
        buf_i, buf_m, buf_t, buf_s = self.buf_i, self.buf_m, self.buf_t, self.buf_s
        # tolist() converts a whole slice to Python numbers at once
        for chunk, count in enumerate(self.count.tolist()):
            if count:
                lo, hi = chunk * buffer, chunk * buffer + count
                entries.extend(zip(buf_i[lo:hi].tolist(), buf_m[lo:hi].tolist(),
                                   buf_t[lo:hi].tolist(), buf_s[lo:hi].tolist()))
        return int(self.over.max()), float(self.bests.min()), entries
