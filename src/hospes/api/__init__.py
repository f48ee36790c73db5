"""The customer API ({issuer}/api/v1): applications act for a customer with the customer's access token.

Protocol-free like oauth/: ``operations`` declares each operation (method, path, scope, parameters, body and
answer schemas) and does it; ``caller`` turns a live token into who acts and what they reach
(accounts/reach.py); ``openapi`` builds the OpenAPI 3.1 document from the same declarations; ``metadata`` is
the RFC 9728 protected-resource metadata. web/api.py parses requests and renders answers.
"""
