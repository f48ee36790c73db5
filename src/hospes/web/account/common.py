"""What the account pages share: rendering inside the client area's layout, and the two-factor keys."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from hospes.web.clientarea.gate import ACCOUNT_SECTIONS, HOME, OWNER_SECTIONS, SECTIONS, Ctx


def render(ctx: Ctx, template: str, section: str, status: int = 200, **context: Any) -> Response:
    """``templates/account/<template>`` with the context the client area's layout needs (the same as
    ``Ctx.render`` gives the client area's own templates, which live under ``clientarea/``)."""
    account_items = ACCOUNT_SECTIONS + (OWNER_SECTIONS if ctx.account.owner else ())
    return ctx.web.render_form(
        ctx.request, "account/" + template, status=status, current=ctx.current, accounts=ctx.accounts,
        account=ctx.account, section=section, nav=ctx.nav(SECTIONS), account_nav=ctx.nav(account_items),
        href=ctx.href, switch_action=ctx.web.path(HOME), **context)
