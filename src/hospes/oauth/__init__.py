"""The protocol core: OAuth 2 and OpenID Connect, framework-free."""
