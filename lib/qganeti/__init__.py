"""qganeti: the Ganeti cluster manager as a toolkit of small commands."""

import sys

__version__ = "0.1.0"

if sys.flags.no_site:
    # luxid starts op programs with `python -S` (site costs ~2 ms per job);
    # third-party modules are then found in the virtualenv by hand.
    def _add_venv_site_packages():
        import os
        venv = os.path.dirname(os.path.dirname(sys.executable))
        site_packages = os.path.join(venv, "lib", "python%d.%d" % sys.version_info[:2],
                                     "site-packages")
        if site_packages not in sys.path:
            sys.path.append(site_packages)
    _add_venv_site_packages()
    del _add_venv_site_packages
