#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of fuzz/beam_fuzz.c into fuzz/corpus/beam_fuzz/.

Each seed is a script in beam_fuzz's format (see the header comment of
beam_fuzz.c): a first byte choosing the receive limit, then chunks, each a
control byte (length class, fds attached, receive-a-step bit) and its bytes.
The scenarios are the frames F1..F7, the receiver cases R1..R6 and the
section 4 capture of design/beam-vectors.txt, plus the hostile cases the
receiver must refuse. Run from anywhere; the output is deterministic.
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "beam_fuzz")

LIMIT_8, LIMIT_64, LIMIT_4096, LIMIT_DEFAULT = 0, 1, 2, 3
PASSCRED = 4
NO_FDS = 8  # BX_BEAM_FDS_NONE (SO_PASSRIGHTS left on)
CHECKED = 16  # only pipes pass (the quarantine)
SOCKETS = 32  # the fds sent are sockets
DROP = 64  # oversized frames are dropped (bx_beam_set_drop_oversized)
MULTI = 128  # beambox's framing (bx_beam_set_multi_fds)
FDS = {0: 0, 1: 1 << 5, 2: 2 << 5, 9: 3 << 5}
STEP = 0x80

# Chunk lengths the control byte can express: 0..23, then 32 << k up to 4096.
LENGTHS = [(n, n) for n in range(24)] + [(24 + k, 32 << k) for k in range(8)]


def chunk(data, fds=0, step=False, fd_last=False):
    """One sendmsg of data with fds, split into encodable pieces. The fds ride
    on the first piece, or with fd_last on the last one (to keep an fd next to
    the header byte it belongs to)."""
    out = b""
    first = True
    while True:
        cls, n = max((c for c in LENGTHS if c[1] <= len(data)), key=lambda c: c[1])
        piece, data = data[:n], data[n:]
        last = not data
        ctl = cls
        if (last if fd_last else first):
            ctl |= FDS[fds]
        if last and step:
            ctl |= STEP
        out += bytes([ctl]) + piece
        first = False
        if last:
            return out


def hdr(length, fd=False):
    return struct.pack(">I", length | (0x80000000 if fd else 0))


def mhdr(length, nfds=0):
    """A header of beambox's framing: the fd bit and the count minus one in bits 30..29."""
    return struct.pack(">I", length | ((0x80000000 | (nfds - 1) << 29) if nfds else 0))


def frame(payload, fd=False):
    return hdr(len(payload), fd) + payload


def original_send(payload, fd=False):
    """The Go sender: header[0] alone with the fd, then header[1:4], then payload."""
    h = hdr(len(payload), fd)
    if fd:
        out = chunk(h[:1], 1) + chunk(h[1:])
    else:
        out = chunk(h)
    return out + (chunk(payload) if payload else b"")


M2 = b"000;3:cmd,15:3:log,6:stdout,,"
M3 = b"000;3:cmd,15:3:log,6:stderr,,"
M4 = b"000;3:cmd,14:3:log,5:stdin,,"
M5 = b"000;3:cmd,13:6:status,1:0,,"
M81 = b"000;3:cmd,15:4:echo,5:hello,,3:env,23:19:000;3:FOO,6:3:bar,,,,"
E = b"000;"

SEEDS = {
    # F1..F7 as the original sent them
    "f1_empty_map": bytes([LIMIT_DEFAULT]) + original_send(E),
    "f2_empty_map_fd": bytes([LIMIT_DEFAULT]) + original_send(E, True),
    "f3_empty_payload": bytes([LIMIT_DEFAULT]) + original_send(b""),
    "f4_empty_payload_fd": bytes([LIMIT_DEFAULT]) + original_send(b"", True),
    "f5_status": bytes([LIMIT_64]) + original_send(M5),
    "f6_log_stdout_fd": bytes([LIMIT_64]) + original_send(M2, True),
    "f7_300_bytes": bytes([LIMIT_4096]) + original_send(b"y" * 300),
    # R1..R6
    "r1_one_sendmsg_fd": bytes([LIMIT_DEFAULT]) + chunk(frame(E, True), 1),
    "r2_two_frames_one_write": bytes([LIMIT_8]) + chunk(frame(E) + frame(E)),
    "r3_fd_bit_no_fd": bytes([LIMIT_8]) + chunk(frame(E, True)),
    "r4_fd_with_payload": bytes([LIMIT_8]) + chunk(hdr(4, True)) + chunk(E, 1),
    "r5_fd_early": bytes([LIMIT_8]) + chunk(frame(E), 1) + chunk(frame(E, True)),
    "r6_truncated": bytes([LIMIT_8]) + chunk(hdr(4) + b"00"),
    # section 4 capture, per-job socket and main socket, as the relay saw it
    "capture_job": bytes([LIMIT_64])
    + chunk(b"\x80", 1)
    + chunk(frame(M2, True)[1:] + b"\x80", 1, fd_last=True)
    + chunk(frame(M3, True)[1:] + b"\x80", 1, fd_last=True)
    + chunk(frame(M4, True)[1:] + frame(M5)),
    "capture_main": bytes([LIMIT_DEFAULT]) + chunk(b"\x80", 1) + chunk(frame(M81, True)[1:]),
    "capture_split_fd": bytes([LIMIT_64])
    + chunk(frame(M5)[:14])
    + chunk(frame(M5)[14:] + b"\x80", 1, fd_last=True)
    + chunk(frame(M2, True)[1:]),
    # hostile peers
    "fd_queue_overflow": bytes([LIMIT_4096]) + b"".join(chunk(bytes([b]), 1) for b in b"\x00\x00\x10\x00\x00"),
    "stray_fds_at_eof": bytes([LIMIT_8]) + chunk(b"\x80", 1) + b"".join(chunk(b"\x00", 1) for _ in range(3)),
    "two_fds_one_message": bytes([LIMIT_8]) + chunk(frame(E, True), 2),
    "nine_fds_ctrunc": bytes([LIMIT_8]) + chunk(frame(E, True), 9),
    "length_max": bytes([LIMIT_DEFAULT]) + chunk(hdr(0x7FFFFFFF, True) + E, 1),
    "over_limit": bytes([LIMIT_8]) + chunk(frame(E) + frame(b"123456789")),
    "eof_mid_header": bytes([LIMIT_8]) + chunk(b"\x00\x00"),
    "passcred": bytes([LIMIT_8 | PASSCRED]) + chunk(frame(E)),
    "drop_oversized": bytes([LIMIT_8 | DROP]) + chunk(hdr(20)) + chunk(b"x" * 20) + chunk(frame(b"abc")),
    # fds where none is asked for, a connection that takes none, checked fds
    "fd_on_frame_asking_none": bytes([LIMIT_64]) + chunk(frame(M5), 1),
    "fd_on_payload": bytes([LIMIT_64]) + chunk(hdr(len(M2), True)) + chunk(M2, 1),
    "early_fd_ends_in_next_payload": bytes([LIMIT_64])
    + chunk(hdr(1))
    + chunk(b"A" + hdr(2, True) + b"B", 1)
    + chunk(b"C"),
    "takes_none_fd_announced": bytes([LIMIT_64 | NO_FDS]) + original_send(M2, True),
    "takes_none_plain": bytes([LIMIT_64 | NO_FDS]) + chunk(frame(M5) + frame(M5)),
    "checked_pipe": bytes([LIMIT_64 | CHECKED]) + original_send(M2, True) + original_send(M5),
    "checked_socket_refused": bytes([LIMIT_64 | CHECKED | SOCKETS]) + original_send(M2, True),
    # early fds (R5): queued outside the fd table, claimed in order, checked when claimed
    "early_fds_claimed_in_order": bytes([LIMIT_64])
    + chunk(frame(E), 1)
    + chunk(frame(E), 1)
    + chunk(frame(M2, True))
    + chunk(frame(M3, True)),
    "checked_early_pipe": bytes([LIMIT_64 | CHECKED]) + chunk(frame(M5), 1) + chunk(frame(M2, True)),
    "checked_early_socket_refused": bytes([LIMIT_64 | CHECKED | SOCKETS])
    + chunk(frame(M5), 1)
    + chunk(frame(M2, True)),
    # non-blocking receiver steps between single bytes
    "byte_at_a_time": bytes([LIMIT_64])
    + b"".join(
        chunk(bytes([b]), 1 if i == 0 else 0, step=True)
        for i, b in enumerate(frame(b"hello", True) + frame(b"") + frame(b"!"))
    ),
    "big_frame_steps": bytes([LIMIT_DEFAULT]) + chunk(hdr(5000)) + chunk(b"x" * 2500, step=True) + chunk(b"x" * 2500, step=True),
    # beambox's framing: up to 3 fds a frame, counted in the header, read ahead
    "multi_one_fd": bytes([LIMIT_64 | MULTI]) + chunk(mhdr(5, 1) + b"hello", 1),
    "multi_two_fds": bytes([LIMIT_64 | MULTI]) + chunk(mhdr(3, 2) + b"abc", 2) + chunk(mhdr(0)),
    "multi_nine_ctrunc": bytes([LIMIT_64 | MULTI]) + chunk(mhdr(3, 3) + b"abc", 9),
    "multi_count_mismatch": bytes([LIMIT_64 | MULTI]) + chunk(mhdr(3, 2) + b"abc", 1),
    "multi_frames_one_read": bytes([LIMIT_64 | MULTI])
    + chunk(mhdr(1, 1) + b"a" + mhdr(1) + b"b" + mhdr(0), 1)
    + chunk(mhdr(2, 2) + b"cd", 2),
    "multi_unclaimed": bytes([LIMIT_64 | MULTI]) + chunk(mhdr(1) + b"a", 1) + chunk(mhdr(1) + b"b"),
    "multi_fd_on_big_payload": bytes([LIMIT_DEFAULT | MULTI])
    + chunk(mhdr(16000))
    + chunk(b"x" * 8000)
    + chunk(b"x" * 8000, 1),
    "multi_takes_none": bytes([LIMIT_64 | MULTI | NO_FDS]) + chunk(mhdr(3, 1) + b"abc", 1),
    "multi_count_without_fd_bit": bytes([LIMIT_64 | MULTI]) + chunk(struct.pack(">I", 0x60000003) + b"abc"),
    "multi_drop": bytes([LIMIT_8 | MULTI | DROP]) + chunk(mhdr(20, 1), 1) + chunk(b"x" * 20) + chunk(mhdr(3) + b"abc"),
    "multi_byte_at_a_time": bytes([LIMIT_64 | MULTI])
    + b"".join(
        chunk(bytes([b]), 2 if i == 0 else 0, step=True)
        for i, b in enumerate(mhdr(5, 2) + b"hello" + mhdr(0) + mhdr(1) + b"!")
    ),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(SEEDS)} seeds to {OUT}")


if __name__ == "__main__":
    main()
