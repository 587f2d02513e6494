"""What every mock partner (``connectors/*/mock*.py``) shares, once: the fault settings' base, the
admin routes ``GET/POST /_mock/faults`` and ``POST /_mock/reset``, the command line (a flag per fault
setting) and serving with uvicorn. A mock keeps only what its partner does.

- :class:`FaultSettings`: a mock's faults subclass it (unknown fields refused; ``seed`` makes the
  fault dice reproducible).
- :func:`install_admin`: the admin routes over a :class:`MockState` (a lock, the faults, how to
  apply new ones, how to reset). A POST is a partial update: the current faults with the posted
  fields, validated whole; ``actions`` are one-shot flags a POST may carry besides (e.g.
  ``expire_sessions: true``). The admin routes are never faulted.
- :func:`add_fault_flags` / :func:`faults_from`: ``--latency-ms``, ``--timeout-rate``... from the
  model's fields (their types, defaults, descriptions and ``Literal`` choices).
- :func:`serve`: uvicorn on the given address until interrupted.
"""

from __future__ import annotations

import argparse
import threading
import types
import typing
from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol, TypeVar

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub import jsonbody

M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound="FaultSettings")
MAX_ADMIN_BODY = 16 * 1024


class FaultSettings(BaseModel):
    """Fault injection of a mock: rates are probabilities per partner call."""

    model_config = ConfigDict(extra="forbid")

    seed: int | None = Field(default=None, description="Reproducible fault dice.")


class MockState(Protocol):
    """What the admin routes need of a mock's state."""

    @property
    def lock(self) -> threading.Lock | threading.RLock: ...

    @property
    def faults(self) -> FaultSettings: ...

    def set_faults(self, faults: Any, changed: Collection[str]) -> None:
        """Apply new faults; ``changed`` names the fields the request set (``seed``: reseed the
        dice; ``outage_seconds``: the outage starts now)."""
        ...

    def reset(self) -> None: ...


async def read_patch(request: Request, hint: str = "a JSON object of fields") -> dict[str, Any]:
    """An admin request's JSON object (hub.jsonbody's rules, bounded), or a 422 saying what is due."""
    try:
        patch = jsonbody.parse(await request.body() or b"{}", max_bytes=MAX_ADMIN_BODY)
    except ValueError:
        patch = None
    if not isinstance(patch, dict):
        raise HTTPException(422, hint)
    return patch


def validated(model: type[M], values: Mapping[str, Any]) -> M:
    """``model`` from ``values``, or a 422 naming each field and rule (never the value)."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        raise HTTPException(422, exc.errors(include_url=False, include_context=False, include_input=False)) from exc


def install_admin(
    app: FastAPI,
    state: MockState,
    *,
    actions: Mapping[str, Callable[[], None]] | None = None,
    view: Callable[[], dict[str, Any]] | None = None,
) -> None:
    """``GET/POST /_mock/faults`` and ``POST /_mock/reset`` for ``state``. ``actions``: one-shot
    flags a faults POST may carry (``{"expire_sessions": true}``), run under the lock after the new
    faults apply; ``view``: what GET shows (default: the faults), called under the lock."""
    acts = dict(actions or {})
    hint = "a JSON object of fault settings" + "".join(f" and/or {name}: true" for name in acts)

    @app.get("/_mock/faults")
    def get_faults() -> dict[str, Any]:
        with state.lock:
            return view() if view is not None else state.faults.model_dump()

    @app.post("/_mock/faults")
    async def set_faults(request: Request) -> dict[str, Any]:
        patch = await read_patch(request, hint)
        wanted = [name for name in acts if patch.pop(name, False) is True]
        with state.lock:
            faults = validated(type(state.faults), state.faults.model_dump() | patch)
            state.set_faults(faults, set(patch))
            for name in wanted:
                acts[name]()
        return get_faults()

    @app.post("/_mock/reset")
    def reset() -> dict[str, str]:
        state.reset()
        return {"status": "reset"}


def _flag_type(annotation: Any) -> tuple[Any, list[str] | None]:
    """(argparse type, choices) of a field's annotation: int / float / str, a Literal's values."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Literal:
        return str, [str(a) for a in args]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return _flag_type(args[0]) if len(args) == 1 else (str, None)
    return (annotation if annotation in (int, float, str) else str), None


def add_fault_flags(parser: argparse.ArgumentParser, model: type[FaultSettings]) -> None:
    """A flag per fault setting: ``--latency-ms 50``, ``--drop-callbacks`` / ``--no-drop-callbacks``."""
    for name, spec in model.model_fields.items():
        flag = "--" + name.replace("_", "-")
        if spec.annotation is bool:
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=spec.default, help=spec.description
            )
            continue
        kind, choices = _flag_type(spec.annotation)
        parser.add_argument(flag, type=kind, default=spec.default, choices=choices, help=spec.description)


def faults_from(args: dict[str, Any], model: type[F]) -> F:
    """The fault settings among parsed ``args`` (taken out of it), validated."""
    return model.model_validate({name: args.pop(name) for name in model.model_fields if name in args})


def mock_parser(description: str, port: int) -> argparse.ArgumentParser:
    """A mock's command line: ``--host`` (127.0.0.1) and ``--port``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    return parser


def serve(app: FastAPI, host: str, port: int) -> None:
    """Serve a mock with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="info")
