"""The OpenAPI 3.1 description of the HTTP API, written by hand (served at ``/openapi.json``).

It describes every route, parameter, request body and response, the one error shape included,
closely enough for a schema-driven fuzzer (schemathesis) to check the server against it.
"""
from __future__ import annotations

from .. import __version__

MAX_QUERY_CHARS = 1000
MAX_BATCH = 100
MAX_LIMIT = 50
SERVICES = ["treatment", "second_opinion", "teleconsultation", "training", "diagnostics",
            "clinical_trials", "international_office"]
AGE_GROUPS = ["adult", "pediatric"]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return {"$ref": f"#/components/responses/{description}"}


NULLABLE_STRING = {"type": ["string", "null"]}

SCHEMAS: dict = {
    "Error": {
        "type": "object",
        "description": "The one error shape of every route.",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {"error": {
            "type": "object", "required": ["code", "message", "status"], "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "description": "Stable snake_case id, e.g. bad_query, not_found.",
                         "examples": ["bad_query"]},
                "message": {"type": "string", "description": "What was wrong and what to do (no internals)."},
                "status": {"type": "integer", "minimum": 400, "maximum": 599, "description": "The HTTP status."},
            },
        }},
    },
    "Language": {
        "type": "object", "required": ["code", "confidence", "source"],
        "properties": {
            "code": {"type": ["string", "null"], "description": "ISO 639-1 code of the query's language."},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "source": {"type": ["string", "null"],
                       "description": "What decided it: declared, script, lexicon, detector, country."},
        },
    },
    "ConceptMatch": {
        "type": "object", "required": ["id", "icd10", "label", "matched", "match", "score"],
        "properties": {
            "id": {"type": "string", "description": "Concept id: an ICD-10 (WHO) code or range.", "examples": ["C50"]},
            "icd10": {"type": "array", "items": {"type": "string"}},
            "label": {"type": "string", "description": "Name in the patient's language where known."},
            "matched": {"type": "string", "description": "The words of the query that matched."},
            "match": {"type": "string", "description": "How: exact, fuzzy, code, abbreviation..."},
            "score": {"type": "number"},
            "lang": NULLABLE_STRING,
            "span": {"type": "array", "items": {"type": "integer"}},
            "flags": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Intent": {
        "type": "object", "required": ["service", "age_group"],
        "properties": {
            "service": {"type": ["string", "null"], "enum": [*SERVICES, None]},
            "age_group": {"type": ["string", "null"], "enum": [*AGE_GROUPS, None]},
            "place": NULLABLE_STRING,
            "urgent": {"type": "boolean"},
            "country": {"type": ["string", "null"], "description": "ISO 3166-1 alpha-2 code."},
        },
    },
    "Why": {
        "type": "object", "required": ["rule", "score", "text"],
        "properties": {
            "rule": {"type": "string", "description": "The ranking rule: pathology, service, language, age..."},
            "score": {"type": "number"},
            "text": {"type": "string", "description": "Why, in the patient's language (English fallback)."},
        },
    },
    "Centre": {
        "type": "object", "required": ["id", "name", "city", "country"],
        "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "city": {"type": "string"},
            "country": {"type": "string"},
            "website": {"type": ["string", "null"], "description": "The centre's public website."},
        },
    },
    "Result": {
        "type": "object", "required": ["offer_id", "service", "title", "centre", "concepts", "languages", "score", "why"],
        "properties": {
            "offer_id": {"type": "string"},
            "service": {"type": "string", "description": "One of: " + ", ".join(SERVICES)},
            "title": {"type": "string"},
            "centre": _ref("Centre"),
            "concepts": {"type": "array", "items": {"type": "string"}, "description": "ICD-10 codes or ranges covered."},
            "languages": {"type": "array", "items": {"type": "string"}},
            "age_groups": {"type": "array", "items": {"type": "string"}},
            "delivery": NULLABLE_STRING,
            "url": NULLABLE_STRING,
            "score": {"type": "number"},
            "why": {"type": "array", "items": _ref("Why")},
            "explanation": {"type": "object", "description": "Per rule: order, score, weight and evidence.",
                            "additionalProperties": {"type": "object"}},
            "more": {"type": "array", "description": "Other offers of the same centre.", "items": {
                "type": "object", "required": ["offer_id", "service", "title", "score"],
                "properties": {"offer_id": {"type": "string"}, "service": {"type": "string"},
                               "title": {"type": "string"}, "score": {"type": "number"}}}},
        },
    },
    "SearchOutput": {
        "type": "object",
        "description": "The search output object of DESIGN.md (same as `carematch search --format json`).",
        "required": ["query", "language", "concepts", "intent", "results", "took_ms"],
        "properties": {
            "query": {"type": "string"},
            "language": _ref("Language"),
            "concepts": {"type": "array", "items": _ref("ConceptMatch")},
            "intent": _ref("Intent"),
            "results": {"type": "array", "items": _ref("Result")},
            "total": {"type": "integer", "minimum": 0, "description": "Offers that matched, before grouping."},
            "index": {"type": "object", "properties": {"digest": {"type": "string"}}},
            "took_ms": {"type": "number", "minimum": 0},
        },
    },
    "BatchQuery": {
        "type": "object", "required": ["q"], "additionalProperties": False,
        "properties": {
            "q": {"type": "string", "maxLength": MAX_QUERY_CHARS},
            "lang": NULLABLE_STRING,
            "country": NULLABLE_STRING,
            "service": {"type": ["string", "null"], "enum": [*SERVICES, None]},
            "age_group": {"type": ["string", "null"], "enum": [*AGE_GROUPS, None]},
            "limit": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_LIMIT},
        },
    },
    "BatchRequest": {
        "type": "object", "required": ["queries"], "additionalProperties": False,
        "properties": {"queries": {
            "type": "array", "minItems": 1, "maxItems": MAX_BATCH,
            "items": {"anyOf": [{"type": "string", "maxLength": MAX_QUERY_CHARS}, _ref("BatchQuery")]},
        }},
    },
    "BatchItemError": {
        "type": "object", "required": ["query", "error"],
        "description": "A query of the batch that could not be served; the others are answered.",
        "properties": {
            "query": {"type": "string"},
            "error": {"type": "object", "required": ["code", "message", "status"],
                      "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                     "status": {"type": "integer"}}},
        },
    },
    "BatchResponse": {
        "type": "object", "required": ["results", "count", "took_ms"],
        "properties": {
            "results": {"type": "array", "description": "One entry per query, in order.",
                        "items": {"anyOf": [_ref("SearchOutput"), _ref("BatchItemError")]}},
            "count": {"type": "integer", "minimum": 0},
            "took_ms": {"type": "number", "minimum": 0},
        },
    },
    "Concept": {
        "type": "object", "required": ["id", "icd10", "label"],
        "properties": {
            "id": {"type": "string"},
            "icd10": {"type": "array", "items": {"type": "string"}},
            "flags": {"type": "array", "items": {"type": "string"}},
            "label": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "Names by language code."},
            "parents": {"type": "array", "items": {"type": "string"}, "description": "Nearest first, up to the chapter."},
            "children": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Health": {
        "type": "object", "required": ["status", "version", "index"],
        "properties": {
            "status": {"const": "ok"},
            "version": {"type": "string"},
            "index": {"type": "object", "required": ["digest"], "properties": {
                "digest": {"type": "string", "description": "The served snapshot's manifest digest."},
                "built_at": NULLABLE_STRING,
                "counts": {"type": "object"},
                "refused": {"type": "object", "required": ["snapshot", "error"],
                            "description": "Present when a newer snapshot failed its checks: the engine "
                                           "goes on serving this one until the next build.",
                            "properties": {"snapshot": {"type": "string"}, "error": {"type": "string"}}},
            }},
        },
    },
    "TriageRequest": {
        "type": "object", "required": ["records"], "additionalProperties": False,
        "properties": {"records": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH,
                                   "items": {"type": "object"},
                                   "description": "Patient requests (e.g. {\"id\", \"text\", \"lang\", \"country\"})."}},
    },
    "TriageResponse": {
        "type": "object", "required": ["results", "count"],
        "properties": {"results": {"type": "array", "items": {"type": "object"}},
                       "count": {"type": "integer", "minimum": 0}},
    },
}

RESPONSES: dict = {
    "BadRequest": _json(_ref("Error"), "Malformed request: a missing, unknown, repeated or invalid parameter, "
                        "an empty or too long query (> 1000 characters), invalid JSON. The message says which."),
    "Unauthorized": {**_json(_ref("Error"), "Missing or wrong operator token."),
                     "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}}},
    "NotFound": _json(_ref("Error"), "No such route, concept or static file."),
    "MethodNotAllowed": {**_json(_ref("Error"), "Method not allowed on this route."),
                         "headers": {"Allow": {"schema": {"type": "string"}}}},
    "TooLarge": _json(_ref("Error"), "Body larger than 256 KiB or more than 100 queries/records."),
    "Unprocessable": _json(_ref("Error"), "Valid JSON of the wrong shape (the message names the field)."),
    "ServerError": _json(_ref("Error"), "Internal error (no internals, no query text)."),
    "Unavailable": _json(_ref("Error"), "The index or the triage module is not available."),
}


def _param(name: str, schema: dict, description: str, required: bool = False, where: str = "query") -> dict:
    return {"name": name, "in": where, "required": required, "description": description, "schema": schema}


SEARCH_PARAMETERS = [
    _param("q", {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS},
           "The patient's words in any language: a diagnosis, an ICD-10 code, what they want.", required=True),
    _param("lang", {"type": "string", "maxLength": 64},
           "The patient's language if known (ISO 639 code or BCP 47 tag such as pt-BR); detected otherwise."),
    _param("country", {"type": "string", "maxLength": 100},
           "The patient's country (ISO 3166 code such as MA, or its name)."),
    _param("service", {"type": "string", "enum": SERVICES}, "The service wanted."),
    _param("age_group", {"type": "string", "enum": AGE_GROUPS}, "Whom the care is for."),
    _param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 10},
           "How many centres to return (results are grouped by centre)."),
]

HTML_PAGE = {"text/html": {"schema": {"type": "string"}}}


def openapi_document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "carematch",
            "version": __version__,
            "summary": "Multilingual matching of foreign patients to French cancer care offers.",
            "description": (
                "Search care offers of French cancer centres and hospitals from a patient's words in any of "
                "22 languages. An orientation service, not medical advice. Every error has the shape "
                "`{\"error\": {\"code\", \"message\", \"status\"}}`. Limits: query <= 1000 characters, "
                "batch <= 100 queries, body <= 256 KiB. No query text is logged."),
            "license": {"name": "GPL-3.0-or-later", "identifier": "GPL-3.0-or-later"},
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/api/search": {"get": {
                "operationId": "search",
                "summary": "Search care offers for one patient request",
                "parameters": SEARCH_PARAMETERS,
                "responses": {"200": _json(_ref("SearchOutput"), "The search output object."),
                              "400": _error("BadRequest"), "405": _error("MethodNotAllowed"),
                              "500": _error("ServerError")},
            }},
            "/api/search/batch": {"post": {
                "operationId": "searchBatch",
                "summary": "Search for up to 100 requests at once (answers in order)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("BatchRequest")}}},
                "responses": {"200": _json(_ref("BatchResponse"), "One search output (or error) per query."),
                              "400": _error("BadRequest"), "405": _error("MethodNotAllowed"),
                              "413": _error("TooLarge"), "422": _error("Unprocessable"),
                              "500": _error("ServerError")},
            }},
            "/api/concepts/{code}": {"get": {
                "operationId": "concept",
                "summary": "A concept of the terminology (ICD-10 code): labels, parents, children",
                "parameters": [
                    _param("code", {"type": "string", "minLength": 1, "maxLength": 64},
                           "Concept id or ICD-10 code, e.g. C50.", required=True, where="path"),
                    _param("lang", {"type": "string", "maxLength": 64}, "Language of `label`."),
                ],
                "responses": {"200": _json(_ref("Concept"), "The concept."),
                              "400": _error("BadRequest"), "404": _error("NotFound"),
                              "405": _error("MethodNotAllowed"), "500": _error("ServerError")},
            }},
            "/api/triage": {"post": {
                "operationId": "triage",
                "summary": "Route a batch of patient requests (international offices; operator token)",
                "description": "Off (404) unless the server has an operator token (CAREMATCH_TRIAGE_TOKEN).",
                "security": [{"operatorToken": []}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("TriageRequest")}}},
                "responses": {"200": _json(_ref("TriageResponse"), "One routed record per input record, in order."),
                              "400": _error("BadRequest"), "401": _error("Unauthorized"),
                              "404": _error("NotFound"), "405": _error("MethodNotAllowed"),
                              "413": _error("TooLarge"), "422": _error("Unprocessable"),
                              "500": _error("ServerError"), "503": _error("Unavailable")},
            }},
            "/healthz": {"get": {
                "operationId": "health",
                "summary": "Health check: the index is loaded; which snapshot",
                "responses": {"200": _json(_ref("Health"), "Serving."), "400": _error("BadRequest"),
                              "405": _error("MethodNotAllowed")},
            }},
            "/openapi.json": {"get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1 document.",
                                      "content": {"application/json": {"schema": {"type": "object"}}}},
                              "405": _error("MethodNotAllowed")},
            }},
            "/": {"get": {
                "operationId": "page",
                "summary": "The patient web page (works without JavaScript)",
                "parameters": [
                    _param("q", {"type": "string"}, "The patient's words (at most 1000 characters)."),
                    _param("country", {"type": "string"}, "ISO 3166 code of the patient's country."),
                    _param("service", {"type": "string"}, "treatment, second_opinion or teleconsultation."),
                    _param("ui", {"type": "string"}, "Interface language (fr, en, es, de, it, pt, ar, ru, zh, "
                                                     "tr, fa, he); default from Accept-Language."),
                ],
                "responses": {"200": {"description": "The page.", "content": HTML_PAGE},
                              "400": {"description": "The page, with what was wrong with the search.",
                                      "content": HTML_PAGE},
                              "405": _error("MethodNotAllowed"), "500": _error("ServerError")},
            }},
            "/static/{path}": {"get": {
                "operationId": "static",
                "summary": "The page's stylesheet, script and icon",
                "parameters": [_param("path", {"type": "string"}, "File name, e.g. app.css.", required=True,
                                      where="path")],
                "responses": {"200": {"description": "The file.", "content": {
                                  "text/css": {"schema": {"type": "string"}},
                                  "text/javascript": {"schema": {"type": "string"}},
                                  "application/javascript": {"schema": {"type": "string"}},
                                  "image/svg+xml": {"schema": {"type": "string"}}}},
                              "404": _error("NotFound"), "405": _error("MethodNotAllowed")},
            }},
        },
        "components": {
            "schemas": SCHEMAS,
            "responses": RESPONSES,
            "securitySchemes": {"operatorToken": {"type": "http", "scheme": "bearer",
                                                  "description": "The operator token (CAREMATCH_TRIAGE_TOKEN)."}},
        },
    }
