"""Signing keys: the list (kid, algorithm, state, dates, age) and "Rotate", the rotation ``hospes keys rotate``
runs (``hospes.oauth.keys.KeyRing.rotate``: the new keys are published now and sign once every relying party can
have them; the old ones stay published until what they signed has expired). Full admins only."""

from __future__ import annotations

from datetime import datetime

from starlette.responses import Response

from hospes.clock import now
from hospes.i18n import N_, _, ngettext
from hospes.oauth.keys import KeyInfo, KeysUnreadable
from hospes.web.admin.auth import Ctx, page

# The key ring's states in the admin's words.
STATES = {
    "pending": N_("Upcoming (published, signs from its activation)"),
    "active": N_("Active (signs now)"),
    "retiring": N_("Retired (no longer signs; published until its tokens expire)"),
    "unpublished": N_("Unpublished"),
}


def _when(value: str | None) -> str:
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _age(created: str) -> str:
    days = (now() - datetime.fromisoformat(created)).days
    return _("today") if days < 1 else ngettext("%(n)d day", "%(n)d days", days) % {"n": days}


def _row(k: KeyInfo) -> dict[str, str]:
    label = _(STATES[k.state]) if k.state in STATES else k.state
    return {"kid": k.kid, "alg": k.alg, "state": k.state, "state_label": label,
            "created": _when(k.created_at), "activates": _when(k.activates_at), "retired": _when(k.retired_at),
            "unpublish": _when(k.unpublish_at), "age": _age(k.created_at)}


@page("keys")
def index(ctx: Ctx) -> Response:
    keys = [_row(k) for k in ctx.web.provider.keys.list()]
    notice = _("New signing keys were added.") if ctx.arg("done") == "rotated" else None
    return ctx.render("keys.html", keys=keys, notice=notice,
                      delay=int(ctx.web.provider.keys.activation_delay))


@page("keys")
def rotate(ctx: Ctx) -> Response:
    """GET: ask first. POST: rotate; with "at once" (a compromised key) the old keys are withdrawn now."""
    if ctx.request.method == "GET":
        return ctx.render("keys_rotate.html", delay=int(ctx.web.provider.keys.activation_delay))
    at_once = ctx.field("at_once") == "yes"
    try:
        ctx.web.provider.keys.rotate(at_once=at_once, actor=ctx.admin.actor, ip=ctx.ip)
    except KeysUnreadable as exc:
        return ctx.render("message.html", status=500, heading=_("The keys cannot be rotated"),
                          message=str(exc))
    return ctx.redirect("/admin/keys?done=rotated")
