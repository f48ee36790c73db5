"""The MCP server's tools ({issuer}/mcp), protocol-free: each tool is one of the customer API's operations
(operations.py) under a name an assistant understands, with the arguments as one JSON object.

So a tool needs the operation's scope, reaches what the operation reaches (accounts/reach.py) and answers what it
answers: the checks on arguments are operations.py's (``read_query``, the writes' body checks), never a second
copy. A list answers ``{"data": [...], "next_page": N or null}`` (the API's ``next`` URL means nothing to an
assistant). web/mcp.py serves them over the MCP SDK's Streamable HTTP transport.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hospes.api.errors import InvalidRequest
from hospes.api.operations import LIST_PARAMS, OPERATIONS, Args, Operation, Page, read_query
from hospes.api.schemas import ID, SCHEMAS, Schema
from hospes.store.values import row_id


@dataclass(frozen=True)
class Tool:
    name: str
    title: str
    description: str  # says the scope it needs: the MCP tool list has no field of its own for that
    operation: Operation
    input_schema: Schema
    id_argument: str | None = None  # the argument that names the record (the operation's path id)

    @property
    def scope(self) -> str | None:
        return self.operation.scope

    @property
    def read_only(self) -> bool:
        return not self.operation.writes


_BY_ID = {op.id: op for op in OPERATIONS}
_LIST_INPUT: Schema = {
    "type": "object",
    "properties": {p.name: {**p.schema, "description": p.description} for p in LIST_PARAMS}
    | {"page": {**LIST_PARAMS[1].schema, "description": "Which page (the answer's next_page, when not null)."}},
    "additionalProperties": False,
}


def _needs(op: Operation) -> str:
    return f" Needs the scope {op.scope}." if op.scope else " Needs any valid token."


def _lister(name: str, title: str, operation_id: str, what: str) -> Tool:
    op = _BY_ID[operation_id]
    return Tool(name, title, f"{what} Filter by status or account_id; page through with page and limit."
                + _needs(op), op, _LIST_INPUT)


def _shower(name: str, title: str, operation_id: str, what: str, argument: str = "id") -> Tool:
    op = _BY_ID[operation_id]
    schema = {"type": "object", "properties": {argument: {**ID, "description": "The record's id."}},
              "required": [argument], "additionalProperties": False}
    return Tool(name, title, what + _needs(op), op, schema, id_argument=argument)


def _reply_input() -> Schema:
    body = SCHEMAS["NewReply"]
    return {**body, "properties": {"ticket_id": {**ID, "description": "The ticket's id."}, **body["properties"]},
            "required": ["ticket_id", *body["required"]]}


TOOLS: tuple[Tool, ...] = (
    Tool("list_accounts", "Client accounts", "The client accounts the person chose for this assistant, with "
         "the person's role and permissions in each (their ids are the account_id of every record)."
         + _needs(_BY_ID["list_accounts"]), _BY_ID["list_accounts"],
         {"type": "object", "properties": {}, "additionalProperties": False}),
    _lister("list_services", "Services", "list_services",
            "The hosting services (products) of the client accounts the assistant may read."),
    _shower("show_service", "Service", "get_service", "One service."),
    _lister("list_domains", "Domains", "list_domains",
            "The domains of the client accounts the assistant may read, with their expiry dates."),
    _shower("show_domain", "Domain", "get_domain", "One domain."),
    _lister("list_invoices", "Invoices", "list_invoices",
            "The invoices of the client accounts the assistant may read (status Unpaid, Paid, ...)."),
    _shower("show_invoice", "Invoice", "get_invoice", "One invoice."),
    _lister("list_tickets", "Support tickets", "list_tickets",
            "The support tickets of the client accounts the assistant may read."),
    _shower("show_ticket", "Support ticket", "get_ticket", "One support ticket, with its message and replies."),
    Tool("open_ticket", "Open a support ticket", "Open a support ticket for the person, in one of their client "
         "accounts (account_id may be left out when the assistant reaches one account)."
         + _needs(_BY_ID["open_ticket"]), _BY_ID["open_ticket"], SCHEMAS["NewTicket"]),
    Tool("reply_to_ticket", "Reply to a support ticket", "Add the person's reply to a support ticket."
         + _needs(_BY_ID["reply_to_ticket"]), _BY_ID["reply_to_ticket"], _reply_input(), id_argument="ticket_id"),
)
BY_NAME = {tool.name: tool for tool in TOOLS}


def arguments(tool: Tool, given: Mapping[str, Any] | None, ip: str) -> Args:
    """The tool's arguments as the operation's input, checked by the operation's own rules (InvalidRequest)."""
    given = dict(given or {})
    record: int | None = None
    if tool.id_argument is not None:
        raw = given.pop(tool.id_argument, None)
        if raw is None:
            raise InvalidRequest(f"{tool.id_argument} is required.")
        # An id that cannot be a record's answers as a record that does not exist (as operations.path_id).
        record = row_id(raw) if isinstance(raw, int) and not isinstance(raw, bool) else None
    if tool.operation.writes:
        return Args(id=record, body=given, ip=ip)
    known = {p.name for p in tool.operation.params if p.location == "query"}
    unknown = sorted(set(given) - known)
    if unknown:
        raise InvalidRequest(f"Unknown argument {unknown[0][:40]!r}.")
    # The query parameters' checks, as the customer API applies them to the query string.
    query = {name: [_text(value)] for name, value in given.items() if value is not None}
    return Args(id=record, query=read_query(tool.operation, query), ip=ip)


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return "\x00"  # refused by read_query's checks, as a query parameter that is not a number or text
    return str(value)


def answer(result: dict[str, Any] | Page, args: Args) -> dict[str, Any]:
    """The tool's structured result: the operation's answer; a page with the number of the next one."""
    if not isinstance(result, Page):
        return result
    following = args.query.get("page", 1) + 1 if result.more else None
    return {"data": result.items, "next_page": following}
