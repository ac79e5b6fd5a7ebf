"""Validates recorded HTTP exchanges against an OpenAPI 3.1 document with openapi-core.

Reads JSON on stdin: {"spec": PATH, "exchanges": [{"method", "path", "query", "requestHeaders": [[n, v]],
"status", "headers": [[n, v]], "body": BASE64}]} and prints {"validated": N, "errors": [...],
"unexercised": [...]}: every response must match its operation's documented status, content type,
headers and body schema (openapi-core's response validation), every problem body's status must
equal the HTTP status, and every operation of the document must have been exercised.
"""
import base64
import json
import re
import sys

from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

data = json.load(sys.stdin)
# The document itself is checked here (openapi-spec-validator). Problem bodies are JSON too.
api = OpenAPI.from_file_path(
    data["spec"], config=Config(extra_media_type_deserializers={"application/problem+json": json.loads}))

with open(data["spec"], encoding="utf-8") as handle:
    import yaml

    document = yaml.safe_load(handle)
base = document["servers"][0]["url"].rstrip("/")
operations = {}
for template, item in document["paths"].items():
    pattern = re.compile("^" + re.escape(base) + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
    for method in ("get", "put", "post", "delete", "patch", "head", "options"):
        if method in item:
            operations[(method.upper(), template)] = pattern

errors = []
exercised = set()
for index, exchange in enumerate(data["exchanges"]):
    label = f"#{index} {exchange['method']} {exchange['path']} -> {exchange['status']}"
    for (method, template), pattern in operations.items():
        if method == exchange["method"] and pattern.match(exchange["path"]):
            exercised.add(f"{method} {template}")
    body = base64.b64decode(exchange["body"])
    environ = EnvironBuilder(
        method=exchange["method"], path=exchange["path"], query_string=exchange.get("query", ""),
        base_url="https://localhost", headers=[tuple(h) for h in exchange.get("requestHeaders", [])],
    ).get_environ()
    response = Response(response=body, status=exchange["status"])
    response.headers.clear()
    for name, value in exchange["headers"]:
        response.headers.add(name, value)
    try:
        api.validate_response(WerkzeugOpenAPIRequest(Request(environ)), WerkzeugOpenAPIResponse(response))
    except Exception as error:  # every validation failure, with openapi-core's causes
        causes = []
        cause = error
        while cause is not None and len(causes) < 6:
            causes.append(f"{type(cause).__name__}: {cause}")
            nested = getattr(cause, "schema_errors", None)
            if nested:
                causes.extend(f"  schema: {e.message} at {list(e.absolute_path)}" for e in list(nested)[:4])
            cause = cause.__cause__
        errors.append(label + ": " + " | ".join(causes))
        continue
    if exchange["status"] >= 400:
        problem = json.loads(body)
        if problem.get("status") != exchange["status"]:
            errors.append(f"{label}: problem status {problem.get('status')} is not the HTTP status")

unexercised = sorted(f"{m} {t}" for (m, t) in operations if f"{m} {t}" not in exercised)
json.dump({"validated": len(data["exchanges"]) - len(errors), "errors": errors, "unexercised": unexercised}, sys.stdout)
