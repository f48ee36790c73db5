"""Single sign-on into the client area: one-time tokens, destinations, redemption, application links."""
