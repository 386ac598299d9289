"""The Jupyter kernel the notebooks and reports run on.

``make setup`` registers this environment's Python as the kernel ``spanalysis`` inside the
environment itself (``--sys-prefix``), so JupyterLab started from the environment, papermill
and nbval all find it, and nothing is written to the user's home folder.
"""
from __future__ import annotations

import sys

KERNEL_NAME = "spanalysis"

__all__ = ["KERNEL_NAME", "install_kernel", "check_kernel"]


def install_kernel(name: str = KERNEL_NAME) -> str:
    from ipykernel.kernelspec import install

    return install(kernel_name=name, display_name=f"Python ({name})", prefix=sys.prefix)


def check_kernel(name: str = KERNEL_NAME) -> str:
    """Return the kernel's resource folder, or raise a clear error if it is not installed."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    from spanalysis.errors import SpanalysisError

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise SpanalysisError(
            f"the Jupyter kernel '{name}' is not installed; run 'make setup' or "
            f"'python -m spanalysis kernel install --name {name}'") from None
    return spec.resource_dir
