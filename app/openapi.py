"""What /openapi.json says about each operation, filled in once after every router is
included (create_app calls `describe_operations`), so routes stay as they are written:

- the summary is the first sentence of the endpoint's docstring, the description the whole
  docstring (FastAPI would otherwise show the function's name, "Api Sequences");
- the refusals every operation can give are listed: 401 when it needs a user, 403 when it
  needs an admin or is a write (a browser session's CSRF token), 404 when the path names a
  thing, 400 when it takes a body (one that does not parse), and each 4xx code that the
  docstring itself names, with the clause that names it;
- every refusal's body: `Refusal` (`{"detail": "message", ...}`), for 422 `Invalid`
  (FastAPI's `{"detail": [{"loc", "msg", "type"}]}`), as app/errors.py writes them.
"""

import inspect
import re
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.auth import current_user, require_admin
from app.schemas import Invalid, Refusal

SUMMARY_MAX = 110
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_CODE = re.compile(r"\b(4\d\d)\b")


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also those behind included-router wrappers (FastAPI >= 0.120)."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)
        elif isinstance(route, APIRoute):
            yield route


def describe_operations(app: FastAPI) -> None:
    for route in api_routes(app.routes):
        if not route.include_in_schema:
            continue
        doc = inspect.cleandoc(route.endpoint.__doc__ or "")
        if route.summary is None and doc:
            route.summary = first_sentence(doc)
        if not route.description:
            route.description = doc
        found = refusals(route, doc)
        route.responses = {**found, **{code: {**found.get(code, {}), **given}
                                       for code, given in route.responses.items()}}
        for code, response in route.responses.items():
            if str(code).startswith("4"):
                response.setdefault("model", Invalid if str(code) == "422" else Refusal)
    app.openapi_schema = None  # built again, with the above, on the next request


def first_sentence(doc: str) -> str:
    """The docstring's first sentence, cut at a clause boundary when it is long."""
    paragraph = " ".join(doc.split("\n\n")[0].split())
    sentence = re.split(r"(?<!e\.g\.)(?<!i\.e\.)(?<=[.!?])\s", paragraph, maxsplit=1)[0].rstrip(".")
    sentence = sentence.split("; ")[0]
    if len(sentence) <= SUMMARY_MAX:
        return sentence
    for mark in (" (", ":", ","):
        head = sentence.split(mark)[0]
        if 20 <= len(head) <= SUMMARY_MAX:
            return head
    return sentence[:SUMMARY_MAX].rsplit(" ", 1)[0] + "…"


def refusals(route: APIRoute, doc: str) -> dict[int | str, dict[str, str]]:
    calls = set(_calls(route.dependant))
    found: dict[int | str, dict[str, str]] = {}
    if current_user in calls:
        found[401] = {"description": "Not signed in: log in, or send `Authorization: Bearer`"}
    if require_admin in calls:
        found[403] = {"description": "Only admins can do that"}
    elif current_user in calls and route.methods & WRITES:
        found[403] = {"description": "A browser session's CSRF token is missing or stale "
                                     "(token requests need none)"}
    if route.body_field is not None:
        found[400] = {"description": "The body does not parse (JSON, or a multipart form "
                                     "without its boundary)"}
    if route.dependant.path_params:
        names = ", ".join(f"`{p.name}`" for p in route.dependant.path_params)
        found[404] = {"description": f"Nothing with that {names}"}
    for clause in re.split(r"[.;]\s|,\s(?=\d{3}\b)", " ".join(doc.split())):
        for code in _CODE.findall(clause):
            found[int(code)] = {"description": clause.strip().rstrip(".")}
    return found


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)
