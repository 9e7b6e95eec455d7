"""Form parsing as `Request.form()` drives it: a header set and an async stream of body chunks.

The hostile-input tests check two things: the error names the limit, and the parser stopped
reading early (bounded work and memory), measured by how much of the stream it pulled.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Iterable
from tempfile import SpooledTemporaryFile

import pytest

from asgiforge.runtime import formparsers
from asgiforge.runtime.datastructures import Headers, UploadFile
from asgiforge.runtime.formparsers import FormParser, MultiPartException, MultiPartParser

BOUNDARY = "a7f3c1e9b2"
MULTIPART = Headers({"content-type": f"multipart/form-data; boundary={BOUNDARY}"})
URLENCODED = Headers({"content-type": "application/x-www-form-urlencoded"})
MiB = 1024 * 1024


class Stream:
    """An async body stream that records how many bytes the parser actually pulled."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self.pulled = 0

    async def _gen(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            self.pulled += len(chunk)
            yield chunk

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._gen()


def chunked(data: bytes, size: int = 64 * 1024) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def field(name: str, value: bytes) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value
        + b"\r\n"
    )


def file_part(name: str, filename: str, content: bytes, content_type: str = "text/plain") -> bytes:
    return (
        (
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + content
        + b"\r\n"
    )


def end() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


async def parse_multipart(body: bytes | list[bytes], **limits: float) -> object:
    chunks = chunked(body) if isinstance(body, bytes) else body
    return await MultiPartParser(MULTIPART, Stream(chunks), **limits).parse()


# --- urlencoded ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_urlencoded_fields() -> None:
    body = b"a=1&name=hello+world&path=%2Fetc%2F&a=2&empty=&flag&&utf=%C3%A9"
    form = await FormParser(URLENCODED, Stream([body])).parse()
    assert form.getlist("a") == ["1", "2"]
    assert form["name"] == "hello world"
    assert form["path"] == "/etc/"
    assert form["empty"] == ""
    assert form["flag"] == ""
    assert form["utf"] == "é"


@pytest.mark.anyio
async def test_urlencoded_fields_split_across_chunks() -> None:
    form = await FormParser(URLENCODED, Stream([b"a=1&b", b"=2", b"&c=", b"3", b""])).parse()
    assert form.multi_items() == [("a", "1"), ("b", "2"), ("c", "3")]


@pytest.mark.anyio
async def test_urlencoded_malformed_escapes_and_bad_utf8_do_not_crash() -> None:
    form = await FormParser(URLENCODED, Stream([b"a=%zz&b=%ff%fe&c=%&\xff=\xfe"])).parse()
    assert form["a"] == "%zz"
    assert form["c"] == "%"
    assert len(form) == 4


@pytest.mark.anyio
async def test_urlencoded_max_fields() -> None:
    ok = b"&".join(b"f%d=x" % i for i in range(1000))
    assert len(await FormParser(URLENCODED, Stream([ok])).parse()) == 1000
    too_many = ok + b"&one=more"
    with pytest.raises(MultiPartException, match="Maximum number of fields is") as info:
        await FormParser(URLENCODED, Stream([too_many])).parse()
    assert "1000" in info.value.message
    with pytest.raises(MultiPartException, match="Maximum number of fields is 2"):
        await FormParser(URLENCODED, Stream([b"a=1&b=2&c=3"]), max_fields=2).parse()


@pytest.mark.anyio
async def test_urlencoded_oversized_field_rejected_while_streaming() -> None:
    stream = Stream(chunked(b"big=" + b"x" * 10 * MiB))
    start = time.perf_counter()
    with pytest.raises(MultiPartException, match="exceeded maximum size"):
        await FormParser(URLENCODED, stream).parse()
    assert time.perf_counter() - start < 2
    assert stream.pulled <= MiB + 64 * 1024  # stopped at the limit, never buffered the rest


@pytest.mark.anyio
async def test_urlencoded_oversized_field_in_one_chunk() -> None:
    with pytest.raises(MultiPartException, match="exceeded maximum size"):
        await FormParser(
            URLENCODED, Stream([b"a=" + b"x" * 200 + b"&b=1"]), max_part_size=100
        ).parse()


def test_limits_must_be_non_negative_numbers() -> None:
    with pytest.raises(ValueError, match="max_fields"):
        FormParser(URLENCODED, Stream([]), max_fields=-1)
    with pytest.raises(ValueError, match="max_files"):
        MultiPartParser(MULTIPART, Stream([]), max_files=float("nan"))
    with pytest.raises(ValueError, match="max_part_size"):
        MultiPartParser(MULTIPART, Stream([]), max_part_size="1")  # type: ignore[arg-type]


# --- multipart: the normal case ------------------------------------------------------------------


@pytest.mark.anyio
async def test_multipart_fields_and_files() -> None:
    body = (
        field("name", b"value")
        + field("name", "second é".encode())
        + file_part("upload", "../../etc/passwd", b"file contents")
        + end()
    )
    form = await parse_multipart([body[:7], body[7:50], body[50:]])
    assert form.getlist("name") == ["value", "second é"]  # type: ignore[attr-defined]
    upload = form["upload"]  # type: ignore[index]
    assert isinstance(upload, UploadFile)
    assert upload.filename == "../../etc/passwd"  # data only, never a path
    assert upload.content_type == "text/plain"
    assert upload.size == len(b"file contents")
    assert upload.headers["content-disposition"].startswith("form-data")
    assert await upload.read() == b"file contents"
    await form.close()  # type: ignore[attr-defined]
    assert upload.file.closed


@pytest.mark.anyio
async def test_multipart_large_file_spools_to_disk_off_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import anyio.to_thread

    hops: list[str] = []
    real = anyio.to_thread.run_sync

    async def spy(func, *args, **kwargs):  # type: ignore[no-untyped-def]
        hops.append(func.__name__)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", spy)
    content = bytes(range(256)) * (12 * 1024)  # 3 MiB
    form = await parse_multipart(file_part("f", "big.bin", content) + end())
    upload = form["f"]  # type: ignore[index]
    assert upload.file._rolled
    assert "write" in hops
    assert await upload.read() == content
    assert upload.size == len(content)
    await form.close()  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_multipart_epilogue_is_not_read() -> None:
    chunks = [field("a", b"1") + end(), b"epilogue" * 1000, b"more" * 1000]
    stream = Stream(chunks)
    form = await MultiPartParser(MULTIPART, stream).parse()
    assert form["a"] == "1"
    assert stream.pulled == len(chunks[0])


@pytest.mark.anyio
async def test_multipart_invalid_utf8_and_unknown_charset_do_not_crash() -> None:
    form = await parse_multipart(field("a", b"\xff\xfe") + end())
    assert form["a"] == "\xff\xfe"  # type: ignore[index]
    headers = Headers({"content-type": f"multipart/form-data; charset=nope; boundary={BOUNDARY}"})
    form = await MultiPartParser(headers, Stream([field("b", b"ok") + end()])).parse()
    assert form["b"] == "ok"


# --- multipart: limits ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_multipart_1001_fields_rejected() -> None:
    ok = b"".join(field(f"f{i}", b"x") for i in range(1000))
    assert len(await parse_multipart(ok + end())) == 1000  # type: ignore[arg-type]
    with pytest.raises(MultiPartException, match="Maximum number of fields"):
        await parse_multipart(ok + field("extra", b"x") + end())


@pytest.mark.anyio
async def test_multipart_1001_files_rejected_and_spooled_files_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created: list[SpooledTemporaryFile[bytes]] = []

    class Recording(SpooledTemporaryFile):  # type: ignore[type-arg]
        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)
            created.append(self)

    monkeypatch.setattr(formparsers, "SpooledTemporaryFile", Recording)
    body = b"".join(file_part(f"f{i}", f"{i}.txt", b"x") for i in range(1001)) + end()
    start = time.perf_counter()
    with pytest.raises(MultiPartException, match="Maximum number of files") as info:
        await parse_multipart(body)
    assert time.perf_counter() - start < 5
    assert "1000" in info.value.message
    assert len(created) == 1000
    assert all(f.closed for f in created)


@pytest.mark.anyio
async def test_limits_accept_infinity() -> None:
    body = b"".join(field(f"f{i}", b"x") for i in range(1001)) + end()
    assert len(await parse_multipart(body, max_fields=float("inf"))) == 1001  # type: ignore[arg-type]
    many = b"&".join(b"f%d=x" % i for i in range(1001))
    form = await FormParser(URLENCODED, Stream([many]), max_fields=float("inf")).parse()
    assert len(form) == 1001


@pytest.mark.anyio
async def test_multipart_custom_limits() -> None:
    two_files = file_part("a", "a", b"1") + file_part("b", "b", b"2") + end()
    with pytest.raises(MultiPartException, match="Maximum number of files"):
        await parse_multipart(two_files, max_files=1)
    with pytest.raises(MultiPartException, match="Maximum number of fields"):
        await parse_multipart(field("a", b"1") + field("b", b"2") + end(), max_fields=1)
    # Files do not count as fields, nor fields as files.
    form = await parse_multipart(field("a", b"1") + file_part("f", "f", b"2") + end(), max_files=1)
    assert len(form) == 2  # type: ignore[arg-type]
    await form.close()  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_multipart_part_size_limit_is_exact() -> None:
    form = await parse_multipart(field("a", b"x" * 100) + end(), max_part_size=100)
    assert form["a"] == "x" * 100  # type: ignore[index]
    with pytest.raises(MultiPartException, match="exceeded maximum size"):
        await parse_multipart(field("a", b"x" * 101) + end(), max_part_size=100)


@pytest.mark.anyio
async def test_multipart_1mib_field_rejected_while_streaming() -> None:
    body = field("big", b"x" * 8 * MiB) + end()
    stream = Stream(chunked(body))
    start = time.perf_counter()
    with pytest.raises(MultiPartException, match="exceeded maximum size"):
        await MultiPartParser(MULTIPART, stream).parse()
    assert time.perf_counter() - start < 2
    assert stream.pulled <= MiB + 2 * 64 * 1024


@pytest.mark.anyio
async def test_file_parts_are_not_limited_by_max_part_size() -> None:
    form = await parse_multipart(file_part("f", "f.bin", b"y" * 300) + end(), max_part_size=100)
    assert (await form["f"].read()) == b"y" * 300  # type: ignore[index]
    await form.close()  # type: ignore[attr-defined]


# --- multipart: malformed bodies -----------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("filler", [b"x", b"\r\n"], ids=["junk", "newlines"])
async def test_multipart_10mb_preamble_rejected_fast(filler: bytes) -> None:
    body = filler * (10 * MiB // len(filler)) + field("a", b"1") + end()
    stream = Stream(chunked(body))
    start = time.perf_counter()
    with pytest.raises(MultiPartException):
        await MultiPartParser(MULTIPART, stream).parse()
    assert time.perf_counter() - start < 2
    assert stream.pulled <= 256 * 1024


@pytest.mark.anyio
async def test_multipart_preamble_in_one_huge_chunk_rejected_fast() -> None:
    body = b"\r\n" * (5 * MiB) + field("a", b"1") + end()
    start = time.perf_counter()
    with pytest.raises(MultiPartException, match="No multipart boundary"):
        await parse_multipart([body])
    assert time.perf_counter() - start < 2


@pytest.mark.anyio
async def test_multipart_small_preamble_and_big_single_chunk_are_fine() -> None:
    content = b"z" * (3 * MiB)
    body = b"\r\n\r\n" + field("a", b"1") + file_part("f", "f.bin", content) + end()
    form = await parse_multipart([body])
    assert form["a"] == "1"  # type: ignore[index]
    assert await form["f"].read() == content  # type: ignore[index]
    await form.close()  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_multipart_unterminated_part_header_rejected_fast() -> None:
    body = f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=".encode() + b"a" * 10 * MiB
    stream = Stream(chunked(body))
    start = time.perf_counter()
    with pytest.raises(MultiPartException):
        await MultiPartParser(MULTIPART, stream).parse()
    assert time.perf_counter() - start < 2
    assert stream.pulled <= 128 * 1024


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body",
    [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="a"'.encode(),  # stops in a header
        field("a", b"1"),  # no closing boundary
        field("a", b"1")[:-10],  # stops inside a part
    ],
    ids=["mid-header", "no-closing-boundary", "mid-part"],
)
async def test_multipart_truncated_body_is_an_error(body: bytes) -> None:
    with pytest.raises(MultiPartException, match="ended before"):
        await parse_multipart([body])


@pytest.mark.anyio
async def test_multipart_empty_body_is_an_empty_form() -> None:
    assert len(await parse_multipart([])) == 0  # type: ignore[arg-type]
    assert len(await parse_multipart([b""])) == 0  # type: ignore[arg-type]


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["urlencoded", "multipart"])
async def test_parser_closes_the_iterator_it_stopped_reading(kind: str) -> None:
    """The parser closes `aiter(stream)`, not just `stream`: a fresh generator is not leaked."""
    closed: list[bool] = []

    class Body:
        def __aiter__(self) -> AsyncIterator[bytes]:
            return self._gen()

        async def _gen(self) -> AsyncIterator[bytes]:
            try:
                yield b"a=" + b"x" * 200 + b"&"
                yield field("a", b"x" * 200) + end()
            finally:
                closed.append(True)

    parser: FormParser | MultiPartParser
    if kind == "urlencoded":
        parser = FormParser(URLENCODED, Body(), max_part_size=100)
    else:
        parser = MultiPartParser(MULTIPART, Body(), max_part_size=100)
    with pytest.raises(MultiPartException):
        await parser.parse()
    assert closed == [True]


@pytest.mark.anyio
async def test_multipart_missing_boundary() -> None:
    headers = Headers({"content-type": "multipart/form-data"})
    with pytest.raises(MultiPartException, match="Missing boundary"):
        await MultiPartParser(headers, Stream([field("a", b"1")])).parse()


@pytest.mark.anyio
async def test_multipart_overlong_boundary() -> None:
    headers = Headers({"content-type": "multipart/form-data; boundary=" + "b" * 1000})
    with pytest.raises(MultiPartException, match="Invalid multipart data"):
        await MultiPartParser(headers, Stream([b""])).parse()


@pytest.mark.anyio
async def test_multipart_part_without_disposition_or_name() -> None:
    no_disposition = f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n".encode() + end()
    with pytest.raises(MultiPartException, match="Content-Disposition"):
        await parse_multipart(no_disposition)
    no_name = f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n".encode() + end()
    with pytest.raises(MultiPartException, match='"name"'):
        await parse_multipart(no_name)


@pytest.mark.anyio
async def test_multipart_garbage_is_a_clean_error() -> None:
    with pytest.raises(MultiPartException, match="Invalid multipart data"):
        await parse_multipart(b"--not-the-boundary\r\n\r\n")


def test_missing_python_multipart_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "python_multipart",
        "python_multipart.multipart",
        "multipart",
        "multipart.multipart",
    ):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install 'asgiforge\[forms\]'"):
        MultiPartParser(MULTIPART, Stream([]))
    # Urlencoded forms need only the standard library.
    FormParser(URLENCODED, Stream([]))


# --- through Request.form(): what a client of a real app sees ------------------------------------


def _form_app() -> object:
    from asgiforge.runtime.applications import App
    from asgiforge.runtime.requests import Request
    from asgiforge.runtime.responses import JSONResponse
    from asgiforge.runtime.routing import Route

    async def submit(request: Request) -> JSONResponse:
        async with request.form(max_files=3, max_fields=3) as form:
            result: dict[str, object] = {}
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    result[key] = [value.filename, (await value.read()).decode()]
                else:
                    result[key] = value
        return JSONResponse(result)

    return App(routes=[Route("/submit", submit, methods=["POST"])])


def test_request_form_parses_both_encodings() -> None:
    from asgiforge.runtime.testclient import TestClient

    client = TestClient(_form_app())  # type: ignore[arg-type]
    assert client.post("/submit", data={"a": "1", "b": "2"}).json() == {"a": "1", "b": "2"}
    response = client.post(
        "/submit", data={"a": "1"}, files={"up": ("../x.txt", b"content", "text/plain")}
    )
    assert response.json() == {"a": "1", "up": ["../x.txt", "content"]}


@pytest.mark.parametrize("kind", ["urlencoded", "multipart-fields", "multipart-files"])
def test_request_over_a_limit_is_a_400_naming_it(kind: str) -> None:
    from asgiforge.runtime.testclient import TestClient

    client = TestClient(_form_app())  # type: ignore[arg-type]
    if kind == "urlencoded":
        response = client.post("/submit", data={f"f{i}": "x" for i in range(4)})
        limit = "Maximum number of fields is 3"
    elif kind == "multipart-fields":
        body = b"".join(field(f"f{i}", b"x") for i in range(4)) + end()
        response = client.post("/submit", content=body, headers=dict(MULTIPART))
        limit = "Maximum number of fields is 3"
    else:
        body = b"".join(file_part(f"f{i}", "n.txt", b"x") for i in range(4)) + end()
        response = client.post("/submit", content=body, headers=dict(MULTIPART))
        limit = "Maximum number of files is 3"
    assert response.status_code == 400
    assert limit in response.text


def test_request_with_10mb_preamble_is_a_fast_400() -> None:
    from asgiforge.runtime.testclient import TestClient

    client = TestClient(_form_app())  # type: ignore[arg-type]
    body = b"\r\n" * (5 * MiB) + field("a", b"1") + end()
    start = time.perf_counter()
    response = client.post("/submit", content=body, headers=dict(MULTIPART))
    assert response.status_code == 400
    assert time.perf_counter() - start < 5
