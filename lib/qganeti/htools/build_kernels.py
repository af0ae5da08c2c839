"""Compile the htools kernels ahead of time (run by `make`).

    python3 -m qganeti.htools.build_kernels [TREE]

numba's just-in-time kernels cost every htools process ~0.4 s before the
first one runs (importing numba, then loading each cached kernel), which
is most of an hsqueeze or hail run on a small cluster.  This builds the
same kernels into an extension module, htools/_kernels_aot*.so, that
loads in milliseconds and needs no numba at run time.  The argument
types of each entry point (kernels.ENTRY_POINTS) are learnt by running
hbal, hspace and hsqueeze on small generated clusters (TREE/t/lib's
generator) with the just-in-time kernels, and the global N+1 check's
kernels directly; htools/_kernels_aot.stamp then
records which kernels.py the module was built from (htools.jit ignores a
stale module).  Needs setuptools and a C compiler, at build time only.
"""

import contextlib
import io
import os
import sys
import tempfile
import types
import warnings

from qganeti.htools import jit, kernels

HERE = os.path.dirname(os.path.abspath(kernels.__file__))


def learn_signatures(tree):
    """The argument types of every entry point as Python calls it (calls
    between compiled kernels add signatures of their own, not wanted)."""
    import numba
    from qganeti.htools import alloc, balance, hbal, hspace, hsqueeze
    from qganeti.htools import text as text_format
    sys.path.insert(0, os.path.join(tree, "t", "lib"))
    import htools_gen
    balance.COMPILE_THRESHOLD = -1
    hsqueeze.COMPILE_THRESHOLD = -1
    alloc.Kernels.SWITCH_AFTER = -1.0
    jit.USE_AOT = False
    compiled = jit.compiled_kernels()
    seen = {name: set() for name in kernels.ENTRY_POINTS}

    def recorder(name, dispatcher):
        def call(*args):
            seen[name].add(tuple(numba.typeof(arg) for arg in args))
            return dispatcher(*args)
        return call

    recording = types.ModuleType("recording")
    recording.__dict__.update(vars(compiled))
    for name in kernels.ENTRY_POINTS:
        setattr(recording, name, recorder(name, getattr(compiled, name)))
    jit.compiled_kernels = lambda parallel=False: recording
    runs = [(hbal, htools_gen.generate(8, 30, "mixed", 3), ["-C"]),
            (hspace, htools_gen.generate(8, 30, "mixed", 3), []),
            (hspace, htools_gen.generate(6, 12, "drbd", 3), ["--disk-template", "drbd"]),
            (hsqueeze, htools_gen.squeeze_cluster(6, 0.3, 8, 2), ["-C"])]
    with tempfile.TemporaryDirectory() as tmp:
        for k, (tool, text, args) in enumerate(runs):
            path = os.path.join(tmp, "c%d.data" % k)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            with contextlib.redirect_stdout(io.StringIO()):
                tool.run(["-t", path] + args)
    # the global N+1 check reaches these only where its sums cannot tell,
    # which a small cluster need not show: called as can_evacuate calls them
    cl = text_format.parse(htools_gen.generate(6, 12, "mixed", 3))
    cl.finish()
    nodes = list(range(cl.nnodes))
    insts = list(range(min(3, len(cl.instrecs))))
    alloc.KERNELS.place_all(cl, nodes, nodes[1:], insts)
    alloc.KERNELS.move_all(cl, nodes, nodes[1:], insts)
    found = {}
    for name, kinds in seen.items():
        if len(kinds) != 1:
            raise SystemExit("build_kernels: fatal: %s was called with %d kinds of "
                             "arguments, not one" % (name, len(kinds)))
        args, = kinds
        dispatcher = getattr(compiled, name)
        found[name] = (dispatcher, dispatcher.overloads[args].signature.return_type(*args))
    return found


def build(found, out_dir):
    warnings.simplefilter("ignore")     # pycc's pending deprecation
    import numba.pycc.compiler
    from numba.core.compiler import Flags
    from numba.pycc import CC

    class NumpyErrors(Flags):
        """The entry points divide as the kernels do elsewhere (x/0 is
        inf or nan, as error_model="numpy"), not raising as pycc's default."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.error_model = "numpy"

    numba.pycc.compiler.Flags = NumpyErrors
    cc = CC(jit.AOT_NAME)
    cc.output_dir = out_dir
    # generic x86-64, not this host's CPU: an installed tree may be copied to
    # another machine; the host's model measured no faster (hsqueeze, hbal)
    cc.target_cpu = ""
    for name, (dispatcher, signature) in found.items():
        cc.export(name, signature)(dispatcher.py_func)
    cc.compile()


def main(argv):
    tree = argv[0] if argv else os.path.normpath(os.path.join(HERE, "..", "..", ".."))
    stamp = jit.aot_stamp()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(stamp)
    build(learn_signatures(tree), HERE)
    tmp = stamp + ".tmp"
    with open(tmp, "w", encoding="ascii") as handle:
        handle.write(jit.kernels_digest() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, stamp)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
