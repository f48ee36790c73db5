"""One module per command group; importing them registers the commands."""

from hospes.adminapi.commands import client_details, clients, oauth, products, resources, sso  # noqa: F401
