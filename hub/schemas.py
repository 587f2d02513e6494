"""Export the canonical messages' JSON Schema to schemas/ (checked current in CI)."""

from __future__ import annotations

import json
from pathlib import Path

from hub import messages


def render() -> dict[str, str]:
    out = {}
    for t in messages.published():
        mtype, version = t.name, t.version
        schema = t.model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://lgsp-hub.example/schemas/{mtype}.v{version}.json"
        schema["x-message-type"] = mtype
        out[f"{mtype}.v{version}.json"] = json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return out


def export(directory: Path, check: bool = False) -> list[str]:
    """Write (or, with check, compare) every schema; return the names that were stale."""
    stale = []
    for name, text in render().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
            if not check:
                directory.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    return stale
