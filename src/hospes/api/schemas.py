"""The JSON shapes of the customer API (JSON Schema 2020-12, as OpenAPI 3.1 uses it): one source for the
answers operations.py builds and the OpenAPI document (openapi.py). Every field is always present (null when
empty), so a shape is stable."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def _object(description: str, properties: Schema, *, optional: tuple[str, ...] = ()) -> Schema:
    return {"type": "object", "description": description, "properties": properties,
            "required": [name for name in properties if name not in optional], "additionalProperties": False}


ID: Schema = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
# Text Hospes stores (store/values.py forbidden_character): no control characters; a message may hold tabs and
# line breaks; something besides white space.
_LINE = "\\u0000-\\u001f\\u007f-\\u009f"
_LINES = "\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f"
SINGLE_LINE = f"^[^{_LINE}]+$"
SUBJECT = f"^[^{_LINE}]*[^\\s{_LINE}][^{_LINE}]*$"
MESSAGE = f"^[^{_LINES}]*[^\\s{_LINES}][^{_LINES}]*$"
TEXT: Schema = {"type": "string"}
DATE: Schema = {"type": ["string", "null"], "format": "date"}
DATE_TIME: Schema = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: dict[str, Schema] = {
    "Error": _object("An error (RFC 6749 §5.2, RFC 6750 §3).", {
        "error": TEXT, "error_description": TEXT}, optional=("error_description",)),
    "Me": {"type": "object", "description": "The person the token acts for: sub, and the claims its scopes "
           "release (OpenID Connect Core §5.4).", "properties": {
               "sub": TEXT, "name": TEXT, "given_name": TEXT, "family_name": TEXT, "preferred_username": TEXT,
               "locale": TEXT, "updated_at": {"type": ["integer", "null"]}, "email": TEXT,
               "email_verified": {"type": "boolean"}}, "required": ["sub"], "additionalProperties": False},
    "Account": _object("A client account the person chose for the application.", {
        "id": ID, "company": TEXT, "name": {"type": "string", "description": "The company, else the owner's name."},
        "status": TEXT,
        "role": {"type": "string", "enum": ["owner", "invited"]},
        "permissions": {"type": "array", "items": TEXT}}),
    "Service": _object("A product or service.", {
        "id": ID, "account_id": ID, "product": TEXT, "domain": TEXT, "status": TEXT, "created_at": DATE_TIME}),
    "Domain": _object("A domain.", {
        "id": ID, "account_id": ID, "domain": TEXT, "status": TEXT, "expires_on": DATE, "created_at": DATE_TIME}),
    "Invoice": _object("An invoice.", {
        "id": ID, "account_id": ID, "status": TEXT, "total": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$"},
        "currency": TEXT, "due_on": DATE, "created_at": DATE_TIME}),
    "Ticket": _object("A support ticket.", {
        "id": ID, "account_id": ID, "subject": TEXT, "status": TEXT, "created_at": DATE_TIME}),
    "Reply": _object("A reply to a support ticket.", {
        "id": ID, "ticket_id": ID, "message": TEXT, "created_at": DATE_TIME,
        "by_you": {"type": "boolean", "description": "Written by the person the token acts for."}}),
    "NewTicket": _object("A ticket to open.", {
        "subject": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": SUBJECT},
        "message": {"type": "string", "minLength": 1, "maxLength": 20000, "pattern": MESSAGE},
        "account_id": {**ID, "description": "May be left out when the token reaches one account."}},
        optional=("account_id",)),
    "NewReply": _object("A reply to send.", {
        "message": {"type": "string", "minLength": 1, "maxLength": 20000, "pattern": MESSAGE}}),
}
# A ticket read on its own also carries its message and replies.
SCHEMAS["TicketDetail"] = {
    **SCHEMAS["Ticket"], "description": "A support ticket with its message and replies.",
    "properties": {**SCHEMAS["Ticket"]["properties"], "message": TEXT,
                   "replies": {"type": "array", "items": {"$ref": "#/components/schemas/Reply"}}},
    "required": [*SCHEMAS["Ticket"]["required"], "message", "replies"],
}


def list_of(name: str) -> Schema:
    """A page of a list: its items and the URL of the next page (null on the last)."""
    return {"type": "object", "properties": {
        "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}},
        "next": {"type": ["string", "null"], "format": "uri"}}, "required": ["data", "next"],
        "additionalProperties": False}
