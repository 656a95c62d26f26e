"""The example customers (examples/make_examples.py) and sample config, for the tests."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _load_examples() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_examples", ROOT / "examples" / "make_examples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


examples = _load_examples()
PEOPLE: list[dict[str, Any]] = [record for record, _ in examples.customers()]
BAD: dict[int, Any] = examples.bad_positions()
GOOD = [pos for pos in range(1, len(PEOPLE) + 1) if pos not in BAD]
SAMPLE_CONFIG: dict[str, Any] = json.loads((ROOT / "sample_config.json").read_text())
