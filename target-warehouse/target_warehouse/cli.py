"""The console script: target-warehouse started without singer_sdk's package __init__.

``import singer_sdk`` imports the tap side too (its streams, requests, and through them
jsonschema's referencing): about 0.1 s of every run's start-up, for nothing a target uses.
The package is put in sys.modules unexecuted, with its path, so its submodules (the
target's) import as usual; an attribute that is not a submodule (``from singer_sdk import
Stream``, in a plugin or mapper) runs the package __init__ after all, and is then found.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any


def _singer_sdk_without_init() -> None:
    if "singer_sdk" in sys.modules:
        return
    spec = importlib.util.find_spec("singer_sdk")
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    package = importlib.util.module_from_spec(spec)

    def complete(name: str) -> Any:  # PEP 562: asked for an attribute it does not have
        if importlib.util.find_spec(f"singer_sdk.{name}") is not None:
            return importlib.import_module(f"singer_sdk.{name}")
        del package.__getattr__  # the package's own __init__ sets its attributes now
        spec.loader.exec_module(package)  # type: ignore[union-attr]
        return getattr(package, name)

    package.__getattr__ = complete  # type: ignore[method-assign]
    sys.modules["singer_sdk"] = package


def main() -> None:
    _singer_sdk_without_init()
    from target_warehouse.target import main as run  # noqa: PLC0415 - after the above

    run()
