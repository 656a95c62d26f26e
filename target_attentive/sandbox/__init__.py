"""A local stand-in for the Attentive API (see ``server.py``), and a helper to run it.

Names are imported lazily so that ``python -m target_attentive.sandbox.server`` does not load
the server module twice.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SandboxConfig", "SandboxProcess", "SandboxServer"]


def __getattr__(name: str) -> Any:
    if name in ("SandboxConfig", "SandboxServer"):
        from . import server

        return getattr(server, name)
    if name == "SandboxProcess":
        from .process import SandboxProcess

        return SandboxProcess
    raise AttributeError(name)
