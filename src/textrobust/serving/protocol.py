"""The textrobust prediction protocol on the wire: reading a bounded body, validating it, and error answers.

Request and answer (what :class:`~textrobust.models.RemoteModel` sends and expects)::

    POST /predict (or /)   {"texts": ["first text", "second text", ...]}
    200 OK                 {"probabilities": [[0.9, 0.1], [0.2, 0.8], ...], "labels": ["negative", "positive"]}

Every refusal is a JSON body with a one-line message, its type and the request id, under the status that says
who must act: ``{"error": {"message": "...", "type": "too_many_texts", "request_id": "5f0c..."}}``.

Example:
    >>> parse_texts(b'{"texts": ["a fine film"]}', max_texts=8, max_chars=100)
    ['a fine film']
    >>> parse_texts(b'{"texts": "a fine film"}', max_texts=8, max_chars=100)
    Traceback (most recent call last):
    ...
    textrobust.serving.protocol.RequestError: 'texts' must be a list of strings, not a string
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ..errors import TextRobustError

REQUEST_EXAMPLE = '{"texts": ["a text", ...]}'


class RequestError(TextRobustError):
    """A request the server refuses: ``status`` (4xx/5xx), ``kind`` (the error type in the body), one-line message,
    and extra response ``headers`` (``Retry-After``, ``Connection: close``)."""

    def __init__(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.headers = status, kind, message, dict(headers or {})


class ClientGone(Exception):
    """The client closed the connection before its request was read: there is nobody to answer."""


def error_body(kind: str, message: str, request_id: str) -> bytes:
    """The JSON error body (one line, no newline inside the message)."""
    message = " ".join(str(message).split())
    return json.dumps({"error": {"message": message, "type": kind, "request_id": request_id}}).encode()


async def read_body(request: Any, *, max_bytes: int, timeout: float) -> bytes:
    """The request body, refused early when it is declared or grows past ``max_bytes`` (413) and when it does not
    arrive within ``timeout`` seconds (408: a slow or stalled client, or a Content-Length larger than the body)."""
    from starlette.requests import ClientDisconnect

    close = {"Connection": "close"}  # the rest of the body is not read: the connection cannot be reused
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise RequestError(
            413, "body_too_large", _too_large(f"the body is {int(declared):,} bytes,", max_bytes), headers=close
        )

    async def read() -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise RequestError(413, "body_too_large", _too_large("the body is", max_bytes), headers=close)
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError:
        raise RequestError(
            408,
            "read_timeout",
            f"the request body did not arrive within {timeout:g} s (a slow client, or a Content-Length "
            "larger than the body)",
            headers=close,
        ) from None
    except ClientDisconnect:
        raise ClientGone() from None


def _too_large(what: str, limit: int) -> str:
    return f"{what} over the limit of {limit:,} bytes (--max-body); send fewer texts per request"


def parse_json(body: bytes, example: str = REQUEST_EXAMPLE) -> Any:
    """A request body as JSON: UTF-8 (else 400 ``not_utf8``), JSON (else 400 ``invalid_json``, naming ``example``)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RequestError(
            400, "not_utf8", f"the body is not UTF-8 (byte 0x{body[e.start]:02x} at offset {e.start}); send UTF-8 JSON"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise RequestError(
            400, "invalid_json", f"the body is not JSON ({e.msg} at offset {e.pos}); send {example}"
        ) from None
    except (ValueError, RecursionError) as e:  # numbers with too many digits, arrays nested thousands deep
        raise RequestError(400, "invalid_json", f"the body cannot be read as JSON ({_first_line(e)})") from None
    return data


def parse_texts(body: bytes, *, max_texts: int, max_chars: int) -> list[str]:
    """The ``texts`` of a prediction request, checked: UTF-8 JSON (400), an object with a list of at most
    ``max_texts`` strings of at most ``max_chars`` characters each (422)."""
    data = parse_json(body)
    if not isinstance(data, dict) or "texts" not in data:
        got = "an object without it" if isinstance(data, dict) else _kind(data)
        message = f"expected a JSON object with 'texts', got {got}: send {REQUEST_EXAMPLE}"
        raise RequestError(422, "invalid_request", message)
    texts = data["texts"]
    if not isinstance(texts, list):
        raise RequestError(422, "invalid_request", f"'texts' must be a list of strings, not {_kind(texts)}")
    if len(texts) > max_texts:
        raise RequestError(
            422,
            "too_many_texts",
            f"{len(texts):,} texts in one request; the limit is {max_texts:,} (--max-texts): send smaller batches",
        )
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise RequestError(422, "invalid_request", f"texts[{i}] is {_kind(t)}, not a string")
        if len(t) > max_chars:
            raise RequestError(
                422,
                "text_too_long",
                f"texts[{i}] has {len(t):,} characters; the limit is {max_chars:,} (--max-chars)",
            )
    try:  # JSON escapes can smuggle lone surrogates, which no tokenizer accepts
        "".join(texts).encode("utf-8")
    except UnicodeEncodeError:
        bad = next(i for i, t in enumerate(texts) if not _encodable(t))
        message = f"texts[{bad}] holds an unpaired surrogate (\\ud800-\\udfff)"
        raise RequestError(422, "invalid_request", message) from None
    return texts


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return {str: "a string", list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _first_line(error: BaseException) -> str:
    return (str(error) or type(error).__name__).splitlines()[0][:120]
