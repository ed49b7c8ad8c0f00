"""Bearer-token auth for order data (health and metrics stay open).

The token comes from the entry point (``ORDERFLOW_API__TOKEN``); when it is None auth is off,
which only the local stack does. Tokens are compared in constant time.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import deps

# auto_error=False: we answer 401 (with WWW-Authenticate) ourselves, and only when a token is
# configured; the scheme still appears in the OpenAPI document.
_bearer = HTTPBearer(auto_error=False, description="ORDERFLOW_API__TOKEN")


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    expected = deps(request).token
    if expected is None:
        return
    given = credentials.credentials if credentials is not None else ""
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
