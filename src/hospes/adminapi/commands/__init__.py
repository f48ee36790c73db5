"""One module per command group; importing them registers the commands."""

from hospes.adminapi.commands import clients, oauth, sso  # noqa: F401
