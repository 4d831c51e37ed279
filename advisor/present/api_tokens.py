"""Named HTTP API tokens: `api_tokens = {name = token}` in settings, plus the single `api_token`, named "api".

The name of the token a request presents is what the audit trail records; the token itself is never stored
or logged. Comparisons are constant-time.
"""

from __future__ import annotations

import hmac

from advisor.settings import Settings

ANONYMOUS = "anonymous"  # no token is configured: the API is open (local use)


def configured(settings: Settings) -> dict[str, str]:
    """name -> token for every configured token."""
    tokens = {name: secret.get_secret_value() for name, secret in settings.api_tokens.items() if secret.get_secret_value()}
    if settings.api_token and settings.api_token.get_secret_value():
        tokens.setdefault("api", settings.api_token.get_secret_value())
    return tokens


def token_name(settings: Settings, authorization: str) -> str | None:
    """The name of the token in an `Authorization: Bearer ...` header; ANONYMOUS when no token is configured;
    None when tokens are configured and this one is missing or wrong."""
    tokens = configured(settings)
    if not tokens:
        return ANONYMOUS
    given = authorization.encode()
    found = None
    for name, token in tokens.items():  # every token is compared, so timing tells nothing about which matched
        if hmac.compare_digest(given, f"Bearer {token}".encode()):
            found = name
    return found
