"""One module per grant type; the token endpoint walks them (fosite's handler pattern)."""
