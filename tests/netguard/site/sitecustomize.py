"""Install the test suite's network guard in a Python subprocess.

Reached through the PYTHONPATH that ``tests.netguard.subprocesses.guarded_environment``
sets; installs nothing unless ``NETGUARD_LOG`` is set. The ``tests.netguard`` package
is loaded by path under a private name because the child's sys.path need not
contain the repository root, and must not be changed to contain it.
"""

import importlib.machinery
import importlib.util
import os
import sys


def _load_netguard_package(name="_ntd_netguard"):
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location(
        name,
        os.path.join(package_dir, "__init__.py"),
        submodule_search_locations=[package_dir],
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    return importlib.import_module(f"{name}.subprocesses")


def _run_shadowed_sitecustomize():
    """Run the sitecustomize this one hides, if the interpreter has one."""
    here = os.path.dirname(os.path.abspath(__file__))
    others = [path for path in sys.path if os.path.abspath(path or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if spec is not None and spec.loader is not None:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


_load_netguard_package().install_from_environment()
_run_shadowed_sitecustomize()
