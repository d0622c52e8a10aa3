"""Rs485Framer: frames out of a byte stream cut anywhere, with noise and restarts."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from active_cli.protocols.framing import MAX_FRAME_BYTES, Rs485Framer

R1 = b"~20024642E00202FD33\r"  # reference §4 R1
R22 = b"~200246040000FDAE\r"  # reference §4 R22
X1 = (
    b"~20024600B07E1102100CE40CE50CE60CE70CE80CE90CEA0CEB0CEC0CED0CEE0CEF0CF00CF1"
    b"0CF20CF3050BAF0BA50BA50BA60BA7007BCEA4FFFF04FFFF000C0138800186A0E087\r"
)


def test_one_frame_in_one_chunk() -> None:
    framer = Rs485Framer()
    assert framer.feed(R1) == [R1]
    assert framer.noise_bytes == 0
    assert framer.pending() == b""


def test_frame_split_at_every_position() -> None:
    for cut in range(1, len(X1)):
        framer = Rs485Framer()
        assert framer.feed(X1[:cut]) == []
        assert framer.pending() == X1[:cut]
        assert framer.feed(X1[cut:]) == [X1]
        assert framer.noise_bytes == 0


def test_byte_by_byte() -> None:
    framer = Rs485Framer()
    out: list[bytes] = []
    for value in R1 + R22:
        out += framer.feed(bytes([value]))
    assert out == [R1, R22]


def test_several_frames_in_one_chunk() -> None:
    assert Rs485Framer().feed(R1 + R22 + X1) == [R1, R22, X1]


def test_noise_before_soi_is_dropped_and_counted() -> None:
    framer = Rs485Framer()
    assert framer.feed(b"\x00\xff garbage" + R1) == [R1]
    assert framer.noise_bytes == 10
    assert framer.feed(b"\n\n") == []  # LF after CR is outside any frame
    assert framer.noise_bytes == 12
    assert framer.feed(b"zz" + R22 + b"yy") == [R22]
    assert framer.noise_bytes == 16


def test_new_soi_restarts_the_frame() -> None:
    framer = Rs485Framer()
    broken = b"~20024642E0"  # lost its end: 11 bytes abandoned
    assert framer.feed(broken + R22) == [R22]
    assert framer.abandoned_frames == 1
    assert framer.noise_bytes == len(broken)


def test_restart_across_chunks() -> None:
    framer = Rs485Framer()
    assert framer.feed(b"~2002") == []
    assert framer.feed(b"46~") == []
    assert framer.pending() == b"~"
    assert framer.feed(R22[1:]) == [R22]
    assert framer.abandoned_frames == 1
    assert framer.noise_bytes == len(b"~200246")


def test_oversize_frame_is_dropped_then_the_framer_recovers() -> None:
    framer = Rs485Framer(max_frame_bytes=64)
    huge = b"~" + b"0" * 100
    assert framer.feed(huge) == []
    assert framer.oversize_frames == 1
    assert framer.pending() == b""
    # The rest of the lost frame, up to the next '~', is noise too.
    assert framer.feed(b"0000\r" + R1) == [R1]
    assert framer.noise_bytes == len(huge) + 5


def test_frame_exactly_at_the_limit_passes() -> None:
    framer = Rs485Framer(max_frame_bytes=len(X1))
    assert framer.feed(X1) == [X1]
    framer = Rs485Framer(max_frame_bytes=len(X1) - 1)
    assert framer.feed(X1) == []
    assert framer.oversize_frames == 1


def test_default_limit_is_the_longest_expressible_frame() -> None:
    # "~" + 12 header digits + 4095 INFO digits + 4 CHKSUM digits + CR
    assert MAX_FRAME_BYTES == 4113
    frame = b"~" + b"0" * (MAX_FRAME_BYTES - 2) + b"\r"
    assert Rs485Framer().feed(frame) == [frame]
    assert Rs485Framer().feed(b"~" + frame[1:-1] + b"0\r") == []


def test_reset_forgets_the_partial_frame_but_keeps_counters() -> None:
    framer = Rs485Framer()
    framer.feed(b"xx~2002")
    framer.reset()
    assert framer.pending() == b""
    assert framer.noise_bytes == 2
    assert framer.feed(b"4642\r" + R1) == [R1]  # the tail is noise now


def test_rejects_a_limit_without_room() -> None:
    with pytest.raises(ValueError):
        Rs485Framer(max_frame_bytes=1)


_noise = st.binary(max_size=20).map(lambda b: b.replace(b"~", b"").replace(b"\r", b""))


@given(
    parts=st.lists(st.tuples(_noise, st.sampled_from([R1, R22, X1])), max_size=6),
    tail=_noise,
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
)
def test_any_chunking_yields_the_frames_and_counts_the_noise(
    parts: list[tuple[bytes, bytes]], tail: bytes, cuts: list[int]
) -> None:
    stream = b"".join(noise + frame for noise, frame in parts) + tail
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    framer = Rs485Framer()
    out: list[bytes] = []
    for start, stop in itertools.pairwise(points):
        out += framer.feed(stream[start:stop])
    assert out == [frame for _, frame in parts]
    assert framer.noise_bytes == sum(len(noise) for noise, _ in parts) + len(tail)
    assert framer.abandoned_frames == 0


@given(st.lists(st.binary(max_size=64), max_size=20))
def test_arbitrary_bytes_only_ever_yield_soi_to_cr_frames(chunks: list[bytes]) -> None:
    framer = Rs485Framer(max_frame_bytes=128)
    total = 0
    out: list[bytes] = []
    for chunk in chunks:
        total += len(chunk)
        out += framer.feed(chunk)
    for frame in out:
        assert frame.startswith(b"~") and frame.endswith(b"\r")
        assert frame.count(b"~") == 1 and frame.count(b"\r") == 1
        assert len(frame) <= 128
    # Every byte is accounted for: in a frame, counted as noise, or pending.
    assert sum(map(len, out)) + framer.noise_bytes + len(framer.pending()) == total
