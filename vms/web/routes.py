"""The route table: one declaration per endpoint, read by the application (to mount
handlers and apply the authentication rules) and by the OpenAPI document."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web
from pydantic import BaseModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Access = Literal["public", "pending", "password", "full"]
"""public: no session; pending: a session whose second factor is still due is enough;
password: a fully signed-in session that must still change its password is enough;
full: a signed-in caller with no pending step."""


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    schema: dict[str, object]
    description: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    access: Access = "full"
    body: type[BaseModel] | None = None
    body_media: str = "application/json"
    query: tuple[Param, ...] = ()
    responses: dict[int, str] = field(default_factory=dict)
    response_media: str = "application/json"
    cookie_only: bool = False
    """Refused to API tokens (e.g. minting tokens, changing one's password)."""


ROUTE_TABLE = web.AppKey("routes", dict[tuple[str, str], Route])
