"""The customer API's operations, declared once: method, path, the scope each needs, its parameters, its body
and answer schemas, and what it does. web/api.py dispatches by these declarations and openapi.py describes
them, so the document and the behaviour cannot drift apart.

What a token may see is accounts/reach.py's rule; a record of an account the token does not reach answers 404,
exactly like one that does not exist. Lists come a page at a time (``limit``, ``page``), newest or in the client
area's order, filtered by ``status`` and ``account_id``. Writes are audited in their own transaction
(accounts/tickets.py) with the person as actor and the application in ``via``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from hospes.accounts import reach, tickets
from hospes.accounts.member_permissions import USER_PERMISSIONS
from hospes.accounts.reach import token_reach
from hospes.api.caller import Caller, admitted, caller_in, caller_of, caller_with, presentable, refused
from hospes.api.errors import InsufficientScope, InvalidRequest, NotFound
from hospes.api.schemas import ID, SINGLE_LINE, Schema, list_of
from hospes.clock import now, utc
from hospes.oauth import claims as standard
from hospes.oauth import errors
from hospes.oauth.authorize import acr_level
from hospes.oauth.provider import Provider
from hospes.secrets import digest
from hospes.store import records
from hospes.store.accounts import ReachedAccount
from hospes.store.lookups import ApiTokenRow, FirstPage
from hospes.store.sql import Tx
from hospes.store.values import check_text, row_id

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_PAGE = 100_000
MAX_STATUS = 32


@dataclass(frozen=True)
class Param:
    name: str
    location: str  # "query" | "path"
    schema: Schema
    description: str


@dataclass(frozen=True)
class Args:
    """An operation's input, read and checked: the path's id, the query's values, the JSON body."""

    id: int | None = None
    query: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    ip: str = ""


@dataclass(frozen=True)
class Page:
    """One page of a list; ``more`` when a next page has rows."""

    items: list[dict[str, Any]]
    more: bool


Answer = dict[str, Any] | Page
# A read runs on the event loop over plain SQL (store/lookups.py ``reading``); a write in an ORM session's
# transaction, in a thread, with its audit entry.
Read = Callable[[Tx, Caller, Args], Awaitable[Answer]]
Write = Callable[[Session, Caller, Args], Answer]


@dataclass(frozen=True)
class Operation:
    id: str  # OpenAPI operationId
    method: str
    path: str  # below /api/v1; "{id}" is the record's id
    summary: str
    scope: str | None  # None: any valid customer token
    answer: Schema
    read: Read | None = None
    write: Write | None = None
    status: int = 200
    params: tuple[Param, ...] = ()
    body: str | None = None  # the request body's schema name
    reaches: bool = True  # reads the person's accounts (all but /me)

    @property
    def writes(self) -> bool:
        return self.write is not None

    @property
    def is_list(self) -> bool:
        return any(p.name == "page" for p in self.params)

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.path.strip("/").split("/"))


# -- parameters -------------------------------------------------------------------------------------------

ID_PARAM = Param("id", "path", ID, "The record's id.")
LIST_PARAMS = (
    Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
          "How many items a page holds."),
    Param("page", "query", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
          "Which page (the answer's next gives the following one)."),
    Param("status", "query", {"type": "string", "minLength": 1, "maxLength": MAX_STATUS, "pattern": SINGLE_LINE},
          "Only items of this status (as the item shows it, e.g. Active, Unpaid, Open)."),
    Param("account_id", "query", ID, "Only items of this client account."),
)


def _integer(name: str, value: str, low: int, high: int) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 10 or not low <= int(value) <= high:
        raise InvalidRequest(f"{name} must be a whole number from {low} to {high}.")
    return int(value)


def read_query(op: Operation, query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The operation's query parameters, checked; others are ignored (RFC 9110 leaves them to the server)."""
    found: dict[str, Any] = {}
    for param in op.params:
        values = query.get(param.name)
        if param.location != "query" or not values:
            continue
        if len(values) > 1:
            raise InvalidRequest(f"The {param.name} parameter must not be repeated.")
        value = values[0]
        if param.name == "status":
            if not 0 < len(value) <= MAX_STATUS:
                raise InvalidRequest(f"status must be 1 to {MAX_STATUS} characters.")
            try:
                found["status"] = check_text(value, "status")
            except ValueError:
                raise InvalidRequest("status must be a single line of text.") from None
        else:
            high = {"limit": MAX_LIMIT, "page": MAX_PAGE}.get(param.name, 2**31 - 1)
            found[param.name] = _integer(param.name, value, 1, high)
    return found


def path_id(value: str) -> int | None:
    """The path's record id; None (answered 404, as a record that does not exist) when it is not one."""
    return row_id(value)


# -- answers ----------------------------------------------------------------------------------------------


def _when(value: datetime | date | None) -> str | None:
    """RFC 3339: a date, or a time with its offset (SQLite hands back naive UTC times)."""
    if isinstance(value, datetime):
        return utc(value).isoformat()
    return value.isoformat() if value is not None else None


def account_json(a: ReachedAccount) -> dict[str, Any]:
    held = list(USER_PERMISSIONS) if a.owner else list(a.permissions)
    return {"id": a.id, "company": a.company, "name": a.name, "status": a.status, "role": a.role,
            "permissions": held}


def service_json(r: records.ServiceRow) -> dict[str, Any]:
    return {"id": r.id, "account_id": r.client_id, "product": r.product_name, "domain": r.domain,
            "status": r.status, "created_at": _when(r.created_at)}


def domain_json(r: records.DomainRow) -> dict[str, Any]:
    return {"id": r.id, "account_id": r.client_id, "domain": r.domain, "status": r.status,
            "expires_on": _when(r.expires_on), "created_at": _when(r.created_at)}


def invoice_json(r: records.InvoiceRow) -> dict[str, Any]:
    return {"id": r.id, "account_id": r.client_id, "status": r.status, "total": r.total, "currency": r.currency,
            "due_on": _when(r.due_on), "created_at": _when(r.created_at)}


def ticket_json(r: records.TicketRow) -> dict[str, Any]:
    return {"id": r.id, "account_id": r.client_id, "subject": r.subject, "status": r.status,
            "created_at": _when(r.created_at)}


def reply_json(r: records.ReplyRow, user_id: int) -> dict[str, Any]:
    return {"id": r.id, "ticket_id": r.ticket_id, "message": r.message, "created_at": _when(r.created_at),
            "by_you": r.user_id == user_id}


# -- what each operation does -------------------------------------------------------------------------------


async def _me(tx: Tx, caller: Caller, args: Args) -> dict[str, Any]:
    person = caller.token.person
    # OIDC Core §5.4: the claims the token's scopes release, as userinfo gives them.
    return {"sub": person.uuid, **standard.released(person, caller.token.scope)}


async def _accounts(tx: Tx, caller: Caller, args: Args) -> Page:
    return Page([account_json(a) for a in caller.reach.accounts], False)


# The rows of a list for the accounts given (a list's window: one more than the page holds, to tell whether
# another page follows).
Rows = Callable[[list[int], records.Window], Awaitable[list[Any]]]


async def _page(caller: Caller, args: Args, kind: str, render: Callable[[Any], dict[str, Any]], rows_of: Rows) -> Page:
    """One page of a list: the rows of the accounts whose ``kind`` the token may read (accounts/reach.py)."""
    ids = caller.reach.readable(kind)
    wanted = args.query.get("account_id")
    if wanted is not None:
        ids = [i for i in ids if i == wanted]
    if not ids:
        return Page([], False)
    limit = args.query.get("limit", DEFAULT_LIMIT)
    offset = (args.query.get("page", 1) - 1) * limit
    rows = await rows_of(ids, records.Window(status=args.query.get("status"), limit=limit + 1, offset=offset))
    return Page([render(r) for r in rows[:limit]], len(rows) > limit)


@dataclass(frozen=True)
class Lister:
    """A list operation's read: ``kind``'s rows, each rendered by ``render``."""

    kind: str
    render: Callable[[Any], dict[str, Any]]

    async def __call__(self, tx: Tx, caller: Caller, args: Args) -> Page:
        async def rows_of(ids: list[int], window: records.Window) -> list[Any]:
            return await records.listed(tx, self.kind, ids, window)

        return await _page(caller, args, self.kind, self.render, rows_of)


def _lister(kind: str, render: Callable[[Any], dict[str, Any]]) -> Read:
    return Lister(kind, render)


def _reader(kind: str, render: Callable[[Any], dict[str, Any]]) -> Read:
    async def run(tx: Tx, caller: Caller, args: Args) -> dict[str, Any]:
        return render(await _readable(tx, caller, args, kind))

    return run


async def _readable(tx: Tx, caller: Caller, args: Args, kind: str) -> Any:
    row = await records.record(tx, kind, args.id) if args.id is not None else None
    if row is None or not caller.reach.may_read(row.client_id, kind):
        raise NotFound(f"No such {kind.removesuffix('s')}.")
    return row


async def _ticket(tx: Tx, caller: Caller, args: Args) -> dict[str, Any]:
    row = await _readable(tx, caller, args, reach.TICKETS)
    replies = [reply_json(r, caller.user_id) for r in await records.replies(tx, row.id)]
    return {**ticket_json(row), "message": row.message, "replies": replies}


def _text_field(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} is required, as a string.")
    return value


def _only(body: Mapping[str, Any], names: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(names))
    if unknown:
        raise InvalidRequest(f"Unknown field {unknown[0][:40]!r}; the fields are {', '.join(names)}.")


def _open_ticket(s: Session, caller: Caller, args: Args) -> dict[str, Any]:
    body = args.body
    _only(body, ("subject", "message", "account_id"))
    subject, message = _text_field(body, "subject"), _text_field(body, "message")
    raw = body.get("account_id")
    writable = caller.reach.writable(reach.TICKETS)
    if raw is None:
        # The contract: account_id may be left out when the token reaches one account.
        if len(caller.reach.accounts) > 1:
            raise InvalidRequest("account_id is required: the token reaches several accounts.")
        account_id = caller.reach.accounts[0].id if caller.reach.accounts else 0
    else:
        # JSON Schema 2020-12 §6.3: 12.0 is an integer too.
        whole = int(raw) if isinstance(raw, float) and raw.is_integer() else raw
        if isinstance(whole, bool) or not isinstance(whole, int) or row_id(whole) is None:
            raise InvalidRequest("account_id must be a client account's id.")
        account_id = whole
    if account_id not in writable:
        raise NotFound("No such account.")
    subject, message, problems = tickets.check_ticket(subject, message)
    if problems:
        raise InvalidRequest(" ".join(problems.values()))
    ticket_id = tickets.open_ticket(s, account_id, subject=subject, message=message, actor=caller.actor,
                                    ip=args.ip, **caller.via)
    opened = records.ticket(s, ticket_id)
    assert opened is not None
    return ticket_json(opened)


def _reply(s: Session, caller: Caller, args: Args) -> dict[str, Any]:
    _only(args.body, ("message",))
    message = _text_field(args.body, "message")
    row = records.ticket(s, args.id) if args.id is not None else None
    if row is None or not caller.reach.may_write(row.client_id, reach.TICKETS):
        raise NotFound("No such ticket.")
    message, problems = tickets.check_message(message)
    if problems:
        raise InvalidRequest(" ".join(problems.values()))
    added = tickets.reply(s, row.client_id, row.id, user_id=caller.user_id, message=message, actor=caller.actor,
                          ip=args.ip, **caller.via)
    return reply_json(added, caller.user_id)


# -- the declarations ---------------------------------------------------------------------------------------


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _collection(kind: str, name: str, render: Callable[[Any], dict[str, Any]], noun: str) -> list[Operation]:
    scope = reach.READ_SCOPE[kind]
    return [
        Operation(f"list_{kind}", "GET", f"/{kind}", f"List the {noun} of the accounts the token reaches",
                  scope, list_of(name), read=_lister(kind, render), params=LIST_PARAMS),
        Operation(f"get_{kind.removesuffix('s')}", "GET", f"/{kind}/{{id}}", f"One {noun.removesuffix('s')}",
                  scope, _ref(name), read=_reader(kind, render), params=(ID_PARAM,)),
    ]


OPERATIONS: tuple[Operation, ...] = (
    Operation("get_me", "GET", "/me", "The person the token acts for", None, _ref("Me"), read=_me, reaches=False),
    Operation("list_accounts", "GET", "/accounts", "The client accounts the person chose for the application",
              None, list_of("Account"), read=_accounts),
    *_collection(reach.SERVICES, "Service", service_json, "services"),
    *_collection(reach.DOMAINS, "Domain", domain_json, "domains"),
    *_collection(reach.INVOICES, "Invoice", invoice_json, "invoices"),
    Operation("list_tickets", "GET", "/tickets", "List the support tickets of the accounts the token reaches",
              reach.READ_SCOPE[reach.TICKETS], list_of("Ticket"), read=_lister(reach.TICKETS, ticket_json),
              params=LIST_PARAMS),
    Operation("get_ticket", "GET", "/tickets/{id}", "One support ticket, with its message and replies",
              reach.READ_SCOPE[reach.TICKETS], _ref("TicketDetail"), read=_ticket, params=(ID_PARAM,)),
    Operation("open_ticket", "POST", "/tickets", "Open a support ticket", reach.WRITE_SCOPE[reach.TICKETS],
              _ref("Ticket"), write=_open_ticket, status=201, body="NewTicket"),
    Operation("reply_to_ticket", "POST", "/tickets/{id}/replies", "Reply to a support ticket",
              reach.WRITE_SCOPE[reach.TICKETS], _ref("Reply"), write=_reply, status=201, params=(ID_PARAM,),
              body="NewReply"),
)


_PATTERNS = tuple((op, op.segments) for op in OPERATIONS)


def match(method: str, path: str) -> tuple[Operation | None, str | None, bool]:
    """The operation for ``path`` (below /api/v1) and ``method``, the path's id, and whether the path names an
    operation at all (for 405 rather than 404)."""
    parts = path.strip("/").split("/") if path.strip("/") else []
    known = False
    for op, pattern in _PATTERNS:
        if len(pattern) != len(parts):
            continue
        found: str | None = None
        for want, got in zip(pattern, parts, strict=True):
            if want == "{id}":
                found = got
            elif want != got:
                break
        else:
            known = True
            if op.method == method or (method == "HEAD" and op.method == "GET"):
                return op, found, True
    return None, None, known


def check_scope(op: Operation, scope: Sequence[str]) -> None:
    """RFC 6750 §3.1: a token without the operation's scope is refused with insufficient_scope."""
    if op.scope is not None and op.scope not in scope:
        raise InsufficientScope(op.scope)


# RFC 9470 §3: the acr a step-up operation needs (accounts/assurance.py: "2" a password and a second factor).
STEP_UP_ACR = "2"


def check_step_up(op: Operation, token: ApiTokenRow, step_up_scopes: frozenset[str]) -> None:
    """HOSPES_API_STEP_UP_SCOPES: an operation needing one of those scopes needs a token from a login with a second
    factor; a lower one is refused with insufficient_user_authentication, naming the acr to ask for."""
    if op.scope in step_up_scopes and acr_level(token.acr) < acr_level(STEP_UP_ACR):
        raise errors.InsufficientUserAuthentication(
            f"The operation needs a login with a second factor (acr {STEP_UP_ACR}); ask again with "
            f"acr_values={STEP_UP_ACR}.", acr_values=STEP_UP_ACR)


async def run_read(tx: Tx, op: Operation, token: ApiTokenRow, args: Args) -> Answer:
    """A read operation for the token (its scope already checked): the person's accounts as they are now, then
    the records, over ``tx``."""
    assert op.read is not None
    caller = await caller_in(tx, token) if op.reaches else Caller(token, token_reach(token.scope, (), ()))
    return await op.read(tx, caller, args)


def first_page(provider: Provider, op: Operation, args: Args) -> bool:
    """Whether ``read_first_page`` answers this request: the first page of a list, where the database reads it
    with the token in one query (store/lookups.py ``pages_in_one_query``)."""
    return provider.lookups.pages_in_one_query and isinstance(op.read, Lister) and args.query.get("page", 1) == 1


async def read_first_page(provider: Provider, op: Operation, token: str, args: Args) -> FirstPage:
    """For a list's first page (``first_page``), in one query (store/lookups.py ``api_first_page``): the live
    token ``token`` (else invalid_token, as ``authenticate``), the accounts its person reaches and the first rows
    of each. Check the scope (``check_scope``), then ``first_page_of`` gives the page."""
    assert isinstance(op.read, Lister)
    limit = args.query.get("limit", DEFAULT_LIMIT)
    found = (await provider.lookups.api_first_page(digest(token), now(), op.read.kind, args.query.get("status"),
                                                   limit + 1)
             if presentable(token) else None)
    if found is None:
        raise refused()
    admitted(found.token)
    return found


async def first_page_of(op: Operation, found: FirstPage, args: Args) -> Page:
    """The page ``perform_read`` would answer, from what ``read_first_page`` read: a page over any of the
    accounts is among their first rows."""
    lister = op.read
    assert isinstance(lister, Lister)
    caller = caller_with(found.token, found.token.reached or ())

    async def rows_of(ids: list[int], window: records.Window) -> list[Any]:
        wanted = set(ids)
        return [r for r in found.rows if r.client_id in wanted][:window.limit]

    return await _page(caller, args, lister.kind, lister.render, rows_of)


async def perform_read(provider: Provider, op: Operation, token: ApiTokenRow, args: Args) -> Answer:
    """``run_read`` on the event loop, as the token lookup runs (no thread, no ORM)."""
    async with provider.lookups.reading() as tx:
        return await run_read(tx, op, token, args)


def perform_write(provider: Provider, op: Operation, token: ApiTokenRow, args: Args) -> Answer:
    """A write operation in one transaction: the person's accounts as they are now, the change and its audit
    entry. Blocking: run it in a thread."""
    assert op.write is not None
    with provider.db.transaction() as s:
        return op.write(s, caller_of(s, token), args)
