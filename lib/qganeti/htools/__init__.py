"""htools: Ganeti 3.0.2's cluster planners (hbal, hail) on the text backend.

Nothing is imported here: hail must start fast, and numba is loaded only
when a problem is big enough to repay it (see htools.jit).
"""
