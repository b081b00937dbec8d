"""OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERR = {str(code): {"$ref": f"#/components/responses/E{code}"} for code in (401, 403, 404, 409, 422, 429)}


def _errs(*codes: int) -> dict[str, Any]:
    return {str(c): ERR[str(c)] for c in codes}


def _page(item: str) -> dict[str, Any]:
    return {"type": "object", "required": ["items", "next_cursor"],
            "properties": {"items": {"type": "array", "items": _ref(item)},
                           "next_cursor": {"type": ["integer", "null"]}}}


PAGING = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
    {"name": "cursor", "in": "query", "schema": {"type": "integer"}},
]
BEARER = [{"bearer": []}]
TASK_ID = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "integer"}}
CODE = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}


def spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "MotCua API", "version": "1",
                 "description": "Một cửa điện tử: thủ tục, hồ sơ, công việc và tra cứu. Errors are "
                                "{error: {code, message}}; messages are Vietnamese unless Accept-Language: en."},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "flask users token USERNAME"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                   "details": {}}}}},
                "Procedure": {"type": "object", "required": ["code", "name", "version"], "properties": {
                    "code": {"type": "string"}, "name": {"type": "string"}, "field": {"type": "string"},
                    "unit": {"type": "string"}, "version": {"type": ["integer", "null"]},
                    "processing_time": {"type": "object"}}},
                "Applicant": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string"}, "id_number": {"type": "string"}, "phone": {"type": "string"},
                    "email": {"type": "string", "format": "email"}, "address": {"type": "string"}}},
                "NewDossier": {"type": "object", "required": ["procedure", "applicant", "data"], "properties": {
                    "procedure": {"type": "string", "description": "procedure code"},
                    "channel": {"enum": ["online", "counter", "postal"], "default": "online"},
                    "applicant": _ref("Applicant"),
                    "data": {"type": "object", "description": "submission form fields; files as data URLs "
                             "(data:<mime>;name=<file name>;base64,<data>)"}}},
                "DossierCreated": {"type": "object",
                                   "required": ["code", "tracking_secret", "status", "status_label", "due_at"],
                                   "properties": {"code": {"type": "string"}, "tracking_secret": {"type": "string"},
                                                  "status": {"type": "integer", "minimum": 1, "maximum": 10},
                                                  "status_label": {"type": "string"},
                                                  "due_at": {"type": ["string", "null"], "format": "date-time"},
                                                  "tracking_url": {"type": "string"}}},
                "Task": {"type": "object", "required": ["id", "dossier_code", "name", "role", "unit", "assignee",
                                                        "due_at"],
                         "properties": {"id": {"type": "integer"}, "dossier_code": {"type": "string"},
                                        "name": {"type": "string"}, "bpmn_id": {"type": "string"},
                                        "role": {"type": "string"}, "unit": {"type": "string"},
                                        "assignee": {"type": ["string", "null"]}, "state": {"type": "string"},
                                        "form": {"type": ["string", "null"]},
                                        "created_at": {"type": "string", "format": "date-time"},
                                        "due_at": {"type": ["string", "null"], "format": "date-time"}}},
                "Step": {"type": "object", "properties": {
                    "name": {"type": "string"}, "role": {"type": ["string", "null"]},
                    "unit": {"type": ["string", "null"]}, "finished_at": {"type": "string", "format": "date-time"},
                    "status": {"type": "integer"}, "status_label": {"type": "string"}}},
                "Tracking": {"type": "object", "required": ["code", "status", "status_label", "steps", "due_at"],
                             "properties": {"code": {"type": "string"}, "status": {"type": "integer"},
                                            "status_label": {"type": "string"},
                                            "due_at": {"type": ["string", "null"], "format": "date-time"},
                                            "steps": {"type": "array", "items": _ref("Step")},
                                            "tasks": {"type": "array", "items": {"type": "object"}},
                                            "timeline": {"type": "array", "items": {"type": "object", "properties": {
                                                "at": {"type": "string", "format": "date-time"},
                                                "title": {"type": "string"},
                                                "lines": {"type": "array", "items": {"type": "string"}}}}},
                                            "postal": {"type": "array", "items": {"type": "object"}},
                                            "payment": {"type": "object", "properties": {
                                                "fee": {"type": "integer"}, "paid": {"type": "boolean"},
                                                "paid_at": {"type": ["string", "null"], "format": "date-time"},
                                                "can_pay": {"type": "boolean"}}},
                                            "rating": {"type": ["object", "null"]}}},
                "Completion": {"type": "object", "properties": {"data": {"type": "object"}}},
                "Rating": {"type": "object", "required": ["level", "level_label", "created_at"], "properties": {
                    "level": {"type": "string"}, "level_label": {"type": "string"}, "comment": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"},
                    "updated_at": {"type": "string", "format": "date-time"},
                    "changeable_until": {"type": "string", "format": "date-time"}}},
                "Version": {"type": "object", "properties": {
                    "procedure": {"type": "string"}, "number": {"type": "integer"}, "status": {"type": "string"},
                    "note": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
                    "published_at": {"type": ["string", "null"], "format": "date-time"},
                    "published_by": {"type": ["string", "null"]},
                    "errors": {"type": "array", "items": {"type": "object"}},
                    "warnings": {"type": "array", "items": {"type": "object"}}}},
                "Completed": {"type": "object", "required": ["code", "status", "task", "tasks", "paper"],
                              "properties": {
                                  "code": {"type": "string"}, "status": {"type": "integer"},
                                  "status_label": {"type": "string"},
                                  "due_at": {"type": ["string", "null"], "format": "date-time"},
                                  "task": _ref("Task"), "tasks": {"type": "array", "items": _ref("Task")},
                                  "paper": {"type": ["object", "null"], "description":
                                            "the paper the outcome calls for: 01 receipt (received), 02 "
                                            "supplement request, 03 refusal; null otherwise",
                                            "properties": {"kind": {"enum": ["01", "02", "03"]},
                                                           "url": {"type": "string"}}}}},
                "Note": {"type": "object", "required": ["id", "author", "at", "text", "attachment_ids"],
                         "properties": {"id": {"type": "integer"}, "author": {"type": "string"},
                                        "at": {"type": "string", "format": "date-time"},
                                        "text": {"type": "string"},
                                        "attachment_ids": {"type": "array", "items": {"type": "integer"}}}},
                "NewNote": {"type": "object", "required": ["text"], "properties": {
                    "text": {"type": "string", "minLength": 1, "maxLength": 4000},
                    "kind": {"enum": ["ghi_chu", "ket_qua"], "default": "ghi_chu",
                             "description": "ket_qua: the signed result, which joins the dossier's files"},
                    "files": {"type": "array", "items": {"type": "string"},
                              "description": "data URLs (data:<mime>;name=<file name>;base64,<data>); "
                                             "PDF, JPEG or PNG by content"}}},
                "Assignment": {"type": "object", "required": ["assignee"], "properties": {
                    "assignee": {"type": "string", "description": "username of a user holding the task's role "
                                                                  "in the task's unit"}}},
                "NewApology": {"type": "object", "required": ["new_due", "reason"], "properties": {
                    "new_due": {"type": "string", "description": "the new appointment: a date (YYYY-MM-DD, the end "
                                "of office hours that day) or an ISO 8601 date-time (no offset: Vietnam time); "
                                "after now and after the current appointment"},
                    "reason": {"type": "string", "minLength": 1, "maxLength": 2000}}},
                "Apology": {"type": "object",
                            "required": ["id", "dossier_code", "issued_at", "old_due", "new_due", "reason"],
                            "properties": {"id": {"type": "integer"}, "dossier_code": {"type": "string"},
                                           "issued_at": {"type": "string", "format": "date-time"},
                                           "issued_by": {"type": ["string", "null"]},
                                           "old_due": {"type": ["string", "null"], "format": "date-time"},
                                           "new_due": {"type": "string", "format": "date-time"},
                                           "reason": {"type": "string"},
                                           "paper_url": {"type": "string", "description": "paper 04 (PDF)"},
                                           "dossier": {"type": "object"}}},
            },
            "responses": {f"E{c}": _json(_ref("Error"), d) for c, d in (
                (401, "Missing or invalid bearer token"), (403, "Not allowed for this user"),
                (404, "Not found"), (409, "Conflict: held by another user or already done"),
                (422, "Invalid data; details lists per-field messages"), (429, "Rate limited"))},
        },
        "paths": {
            "/procedures": {"get": {"summary": "Published procedures", "parameters": PAGING,
                                    "responses": {"200": _json(_page("Procedure"))}}},
            "/procedures/{code}": {"get": {"summary": "A procedure with its submission form (JSON Schema)",
                                           "parameters": [CODE],
                                           "responses": {"200": _json({"type": "object"}), **_errs(404)}}},
            "/dossiers": {"post": {"summary": "Submit a dossier (no account; rate limited)",
                                   "requestBody": {"required": True, "content": {
                                       "application/json": {"schema": _ref("NewDossier")}}},
                                   "responses": {"201": _json(_ref("DossierCreated"), "Created"),
                                                 **_errs(404, 422, 429)}}},
            "/dossiers/{code}": {"get": {"summary": "A dossier with data, history and open tasks (officials)",
                                         "security": BEARER, "parameters": [CODE],
                                         "responses": {"200": _json({"type": "object"}), **_errs(401, 403, 404)}}},
            "/tasks": {"get": {"summary": "Task inbox, sorted by due date (keyset on due date and id)",
                               "security": BEARER, "parameters": [
                {"name": "scope", "in": "query", "schema": {"enum": ["mine", "available", "queue", "unassigned"],
                                                            "default": "available"},
                 "description": "available: open tasks the caller may work now; mine: claimed by or assigned to "
                                "(or delegated to) the caller; queue: tasks of the caller's roles in their units; "
                                "unassigned: nobody holds them"},
                {"name": "procedure", "in": "query", "schema": {"type": "string"}, "description": "procedure code"},
                {"name": "status", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10}},
                {"name": "channel", "in": "query", "schema": {"enum": ["online", "counter", "postal"]}},
                {"name": "due", "in": "query", "schema": {"enum": ["overdue", "soon", "on_time"]}},
                {"name": "days", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 30},
                 "description": "with due=soon: due within this many working days"},
                {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
                {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
                {"name": "q", "in": "query", "schema": {"type": "string"},
                 "description": "dossier code (anywhere in it) or applicant name (each word starts a word of "
                                "the name, in any position), diacritics ignored: \"van an\" finds \"Nguyễn Văn An\""},
                {"name": "counts", "in": "query", "schema": {"type": "boolean"}, "description": "add counts per tab"},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "opaque"}],
                "responses": {"200": _json(_page("Task")), **_errs(401, 422)}}},
            "/tasks/{task_id}": {"get": {"summary": "A task with its form schema", "security": BEARER,
                                         "parameters": [TASK_ID],
                                         "responses": {"200": _json(_ref("Task")), **_errs(401, 403, 404)}}},
            "/tasks/{task_id}/claim": {"post": {"summary": "Claim", "security": BEARER, "parameters": [TASK_ID],
                                                "responses": {"200": _json(_ref("Task")),
                                                              **_errs(401, 403, 404, 409)}}},
            "/tasks/{task_id}/release": {"post": {"summary": "Release", "security": BEARER,
                                                  "parameters": [TASK_ID],
                                                  "responses": {"200": _json(_ref("Task")),
                                                                **_errs(401, 404, 409)}}},
            "/tasks/{task_id}/complete": {"post": {
                "summary": "Complete with form data (claims it if unclaimed)", "security": BEARER,
                "parameters": [TASK_ID],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Completion")}}},
                "responses": {"200": _json(_ref("Completed")), **_errs(401, 403, 404, 409, 422)}}},
            "/tasks/{task_id}/assign": {"post": {
                "summary": "A leader of the task's unit assigns it to a colleague holding its role there",
                "security": BEARER, "parameters": [TASK_ID],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Assignment")}}},
                "responses": {"200": _json(_ref("Task")), **_errs(401, 403, 404, 409, 422)}}},
            "/dossiers/{code}/notes": {
                "get": {"summary": "Officials' comments and internal notes on a dossier (never shown to the "
                                   "applicant)", "security": BEARER, "parameters": [CODE],
                        "responses": {"200": _json(_page("Note")), **_errs(401, 403, 404)}},
                "post": {"summary": "Add a note, optionally with files that join the dossier", "security": BEARER,
                         "parameters": [CODE],
                         "requestBody": {"required": True,
                                         "content": {"application/json": {"schema": _ref("NewNote")}}},
                         "responses": {"201": _json(_ref("Note"), "Created"), **_errs(401, 403, 404, 422)}}},
            "/dossiers/{code}/apologies": {
                "get": {"summary": "Apologies issued for a late dossier, oldest first", "security": BEARER,
                        "parameters": [CODE], "responses": {"200": _json(_page("Apology")), **_errs(401, 403, 404)}},
                "post": {"summary": "The dossier will be late: apologise with a new appointment date (paper 04); "
                                    "the due date moves and the applicant is notified (reception or leader of the "
                                    "dossier's unit)", "security": BEARER, "parameters": [CODE],
                         "requestBody": {"required": True,
                                         "content": {"application/json": {"schema": _ref("NewApology")}}},
                         "responses": {"201": _json(_ref("Apology"), "Created"),
                                       **_errs(401, 403, 404, 409, 422)}}},
            "/procedures/{code}/versions": {
                "get": {"summary": "A procedure's versions (designers of the owning agency)", "security": BEARER,
                        "parameters": [CODE], "responses": {"200": _json(_page("Version")), **_errs(401, 403, 404)}},
                "post": {"summary": "Upload a new draft version: the BPMN and its forms (multipart); refused with "
                                    "the linter's messages when it has errors; `unit` creates the procedure",
                         "security": BEARER, "parameters": [CODE],
                         "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                             "type": "object", "required": ["bpmn"], "properties": {
                                 "bpmn": {"type": "string", "format": "binary"},
                                 "forms": {"type": "array", "items": {"type": "string", "format": "binary"}},
                                 "note": {"type": "string"}, "unit": {"type": "string"},
                                 "name": {"type": "string"}}}}}},
                         "responses": {"201": _json(_ref("Version"), "Created"), **_errs(401, 403, 404, 422)}}},
            "/procedures/{code}/versions/{number}/publish": {"post": {
                "summary": "Publish a version: new dossiers use it, running ones keep theirs", "security": BEARER,
                "parameters": [CODE, {"name": "number", "in": "path", "required": True,
                                      "schema": {"type": "integer"}}],
                "responses": {"200": _json(_ref("Version")), **_errs(401, 403, 404, 409, 422)}}},
            "/tracking/{code}": {"get": {"summary": "Public tracking by code and secret (rate limited)",
                                         "parameters": [CODE, {"name": "secret", "in": "query", "required": True,
                                                               "schema": {"type": "string"}}],
                                         "responses": {"200": _json(_ref("Tracking")), **_errs(404, 429)}}},
            "/tracking/{code}/tasks/{task_id}/complete": {"post": {
                "summary": "The applicant completes a task of theirs (e.g. supplies missing papers)",
                "parameters": [CODE, TASK_ID],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["secret", "data"],
                    "properties": {"secret": {"type": "string"}, "data": {"type": "object"}}}}}},
                "responses": {"200": _json(_ref("Tracking")), **_errs(404, 409, 422, 429)}}},
            "/tracking/{code}/rating": {"post": {
                "summary": "The applicant rates the handling once the result is ready (status 9 or 10); one rating "
                           "per dossier, changeable for 7 days (201 given, 200 changed)",
                "parameters": [CODE],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["secret", "level"],
                    "properties": {"secret": {"type": "string"},
                                   "level": {"type": "string",
                                             "enum": ["very_satisfied", "satisfied", "not_satisfied"]},
                                   "comment": {"type": "string", "maxLength": 1000}}}}}},
                "responses": {"200": _json(_ref("Rating")), "201": _json(_ref("Rating")),
                              **_errs(404, 409, 422, 429)}}},
        },
    }
