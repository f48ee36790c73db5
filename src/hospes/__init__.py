"""Hospes: an OAuth 2 / OpenID Connect provider for hosting companies' client areas."""

__version__ = "0.1.0"
