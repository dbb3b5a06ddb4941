"""The OpenAPI 3.1 document, generated from the route table (``vms.web.routes``)."""

from __future__ import annotations

import re
from typing import Any

from vms import __version__
from vms.web.routes import Route

_ERROR = {
    "type": "object",
    "required": ["erreur"],
    "properties": {
        "erreur": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string", "description": "Message en français."},
            },
        }
    },
}
_ERRORS = {401: "Authentification requise", 403: "Accès refusé", 429: "Trop de requêtes"}


def _operation(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": route.summary,
        "tags": [route.tag],
        "operationId": f"{route.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', route.path.lower())}",
    }
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "integer", "minimum": 1} if name.endswith("_id") and name != "camera_id"
         and name != "group_id" else {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]  # fmt: skip
    params += [
        {"name": p.name, "in": "query", "required": p.required, "schema": p.schema,
         "description": p.description}
        for p in route.query
    ]  # fmt: skip
    if params:
        op["parameters"] = params
    if route.body is not None:
        name = route.body.__name__
        schemas[name] = route.body.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schemas[name].pop("$defs", {}))
        op["requestBody"] = {
            "required": True,
            "content": {route.body_media: {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        }
    elif route.body_media == "text/csv":
        op["requestBody"] = {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    responses: dict[str, Any] = {}
    for status, text in sorted(route.responses.items()):
        if status < 300 and status != 204:
            media = {"schema": {"type": "string"}} if route.response_media == "text/csv" else {
                "schema": {"type": "object"}}  # fmt: skip
            responses[str(status)] = {"description": text, "content": {route.response_media: media}}
        elif status == 204:
            responses[str(status)] = {"description": text}
        else:
            responses[str(status)] = {"$ref": "#/components/responses/Erreur", "description": text}
    if route.access != "public":
        for status in _ERRORS:
            responses.setdefault(str(status), {"$ref": "#/components/responses/Erreur"})
        op["security"] = [{"session": []}, {"jeton": []}]
    if route.body is not None or route.query:
        responses.setdefault("400", {"$ref": "#/components/responses/Erreur"})
    op["responses"] = responses
    return op


def document(routes: tuple[Route, ...]) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Erreur": _ERROR}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "VMS — API du centre de supervision",
            "version": __version__,
            "description": (
                "API JSON du service opérateur. Authentification par session (cookie "
                "vms_session, en-tête X-CSRF-Token pour les requêtes modifiantes) ou par "
                "jeton d'accès (Authorization: Bearer). Messages d'erreur en français."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                "Erreur": {
                    "description": "Erreur (message en français)",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Erreur"}}
                    },
                }
            },
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "vms_session"},
                "jeton": {"type": "http", "scheme": "bearer"},
            },
        },
    }
