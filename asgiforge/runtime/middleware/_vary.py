"""One `Vary` header for responses that several middlewares make vary (CORS, GZip).

Caches key on the whole `Vary` value, so two middlewares each appending their own header would
leave one of them unseen by caches that read only the first; merging into a single header keeps
every reason the response varies.
"""

from __future__ import annotations

Headers = list[tuple[bytes, bytes]]


def merge_vary(headers: Headers, token: bytes) -> Headers:
    """Merge every Vary header into one that includes `token` (unless it or `*` is already
    there); `headers` is changed in place when it had no Vary header, else a new list returned."""
    values = [value for key, value in headers if key.lower() == b"vary"]
    if not values:
        headers.append((b"vary", token))
        return headers
    tokens = [part.strip().lower() for value in values for part in value.split(b",")]
    if token.lower() not in tokens and b"*" not in tokens:
        values.append(token)
    kept = [(key, value) for key, value in headers if key.lower() != b"vary"]
    kept.append((b"vary", b", ".join(values)))
    return kept
