"""The report pipe codec both supervisors and both workers use: round trip, torn reads, garbage."""

from __future__ import annotations

import json
import os

import pytest

from asgiforge.errors import SourceFrame
from asgiforge.server import pipes
from asgiforge.server.pipes import Decoder, encode, read_report


def test_messages_round_trip_in_order() -> None:
    details = json.dumps({"ok": True, "error": "line one\nline two", "routes": 3}).encode()
    sent = [
        (pipes.HEARTBEAT, b""),
        (pipes.READY, details),
        (pipes.RECYCLE, b""),
        (pipes.ERROR, "2 no module 'café'".encode()),
    ]
    wire = b"".join(encode(kind, payload) for kind, payload in sent)
    assert Decoder().feed(wire) == sent
    assert json.loads(Decoder().feed(encode(pipes.READY, details))[0][1])["error"] == (
        "line one\nline two"
    )


def test_a_message_cut_anywhere_is_returned_once_complete() -> None:
    wire = encode(pipes.ERROR, b"3 startup failed") + encode(pipes.HEARTBEAT)
    for cut in range(1, len(wire)):
        decoder = Decoder()
        got = decoder.feed(wire[:cut]) + decoder.feed(wire[cut:])
        assert got == [(pipes.ERROR, b"3 startup failed"), (pipes.HEARTBEAT, b"")], cut
    decoder = Decoder()
    assert [m for byte in wire for m in decoder.feed(bytes([byte]))] == Decoder().feed(wire)


def test_garbage_is_skipped_and_an_overlong_line_is_dropped_not_buffered() -> None:
    decoder = Decoder(max_line=16)
    assert decoder.feed(b"\n\n") == []
    assert decoder.feed(b"x" * 40) == []  # over the bound: dropped up to its newline
    assert decoder.feed(b"y" * 40) == []
    assert decoder.feed(b"tail\n" + encode(pipes.READY, b"{}")) == [(pipes.READY, b"{}")]
    assert decoder.feed(b"?unknown\n") == [(b"?", b"unknown")]  # callers ignore unknown types


@pytest.mark.parametrize(
    ("kind", "payload"), [(b"", b""), (b"RR", b""), (b"\n", b""), (pipes.ERROR, b"a\nb")]
)
def test_what_cannot_be_framed_is_refused(kind: bytes, payload: bytes) -> None:
    with pytest.raises(ValueError):
        encode(kind, payload)


def test_read_report_tells_data_nothing_yet_and_end_of_file_apart() -> None:
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    try:
        assert read_report(read_fd) is None
        os.write(write_fd, encode(pipes.READY))
        assert read_report(read_fd) == b"R\n"
        os.close(write_fd)
        write_fd = -1
        assert read_report(read_fd) == b""
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


def test_frames_round_trip_and_garbage_frames_are_dropped() -> None:
    frames = [
        SourceFrame("main.py", 2, "<module>", 'x = setting("DB")'),
        SourceFrame("h.py", 3, "f"),
    ]
    message = Decoder().feed(encode(pipes.FRAMES, pipes.encode_frames(frames)))
    assert message[0][0] == pipes.FRAMES
    assert pipes.decode_frames(message[0][1]) == tuple(frames)
    many = [SourceFrame(f"m{i}.py", i, "f") for i in range(50)]
    assert len(pipes.decode_frames(pipes.encode_frames(many))) == pipes.MAX_FRAMES
    garbage = json.dumps([["a.py", "not a line", "f", ""], ["b.py", 1, "g", "y"], 7]).encode()
    assert pipes.decode_frames(garbage) == (SourceFrame("b.py", 1, "g", "y"),)
    assert pipes.decode_frames(b"{not json") == ()
    assert pipes.decode_frames(b'{"a": 1}') == ()
