#!/usr/bin/env python3
"""Writes the seed corpora of remote_fuzz and cli_args_fuzz (see their headers)."""
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))


def ns(b):
    return b"%d:%s," % (len(b), b)


def msg(*cmd):
    return b"000;" + ns(b"cmd") + ns(b"".join(ns(c) for c in cmd))


def frame(payload, fd_bit=False, length=None):
    n = len(payload) if length is None else length
    return struct.pack(">I", n | (0x80000000 if fd_bit else 0)) + payload


def chunks(data, fd_kind=None):
    """Control bytes + data, in chunks of at most 23 bytes; an fd on the first."""
    out = b""
    first = True
    while data or first:
        part, data = data[:23], data[23:]
        c = len(part)
        if first and fd_kind is not None:
            c |= 0x20 | (fd_kind << 6)
        out += bytes([c]) + part
        first = False
    return out


PIPE_READ, PIPE_WRITE, DEVNULL, SOCKET = 0, 1, 2, 3
CAP_OUT, CAP_ERR, STDIN_BUF, OUT_NULL = 1, 2, 4, 8
BEAMBOX1, RELAYED = 64, 128  # the worker said beambox/1; stdout relayed (with OUT_NULL)
LIMIT_64 = 2 << 4

remote = {
    "status_0": (0, chunks(frame(msg(b"status", b"0")))),
    "error_then_status": (0, chunks(frame(msg(b"error", b"boom"))) +
                          chunks(frame(msg(b"status", b"1")))),
    "log_stdout": (CAP_OUT | LIMIT_64,
                   chunks(frame(msg(b"log", b"stdout"), True), PIPE_READ) +
                   chunks(frame(msg(b"status", b"0")))),
    "log_all": (CAP_OUT | CAP_ERR | STDIN_BUF | LIMIT_64,
                chunks(frame(msg(b"log", b"stdout"), True), PIPE_READ) +
                chunks(frame(msg(b"log", b"stderr"), True), PIPE_READ) +
                chunks(frame(msg(b"log", b"stdin"), True), PIPE_WRITE) +
                chunks(frame(msg(b"status", b"0")))),
    "log_stdin_epipe": (STDIN_BUF, chunks(frame(msg(b"log", b"stdin"), True), PIPE_WRITE) +
                        chunks(frame(msg(b"status", b"0")))),
    "log_stdout_devnull": (OUT_NULL, chunks(frame(msg(b"log", b"stdout"), True), PIPE_READ) +
                           chunks(frame(msg(b"status", b"3")))),
    "log_socket": (CAP_OUT, chunks(frame(msg(b"log", b"stdout"), True), SOCKET) +
                   chunks(frame(msg(b"status", b"0")))),
    "log_twice": (CAP_OUT, chunks(frame(msg(b"log", b"stdout"), True), PIPE_READ) +
                  chunks(frame(msg(b"log", b"stdout"), True), PIPE_READ)),
    "two_statuses": (0, chunks(frame(msg(b"status", b"0")) + frame(msg(b"status", b"7")))),
    "bad_status": (0, chunks(frame(msg(b"status", b"256")))),
    "status_with_fd": (0, chunks(frame(msg(b"status", b"0"), True), DEVNULL)),
    "fd_bit_no_fd": (0, chunks(frame(msg(b"status", b"0"), True))),
    "truncated": (0, chunks(frame(msg(b"status", b"0"))[:12])),
    "huge": (0, chunks(struct.pack(">I", 0x7fffffff))),
    "unknown_verb": (0, chunks(frame(msg(b"ready")))),
    "undecodable": (0, chunks(frame(b"001;3:cmd,"))),
    "eof_no_status": (CAP_OUT, b""),
    # a beambox/1 worker: its job channel takes no fds; stdout relayed through a pipe
    "beambox1_status": (BEAMBOX1 | OUT_NULL | RELAYED, chunks(frame(msg(b"status", b"0")))),
    "beambox1_log_fd": (BEAMBOX1 | CAP_OUT,
                        chunks(frame(msg(b"log", b"stdout"), True), PIPE_READ) +
                        chunks(frame(msg(b"status", b"0")))),
    "beambox1_fd_unannounced": (BEAMBOX1, chunks(frame(msg(b"status", b"0")), DEVNULL)),
    # an original worker's log fd of the wrong kind: refused in the quarantine
    "log_devnull_refused": (CAP_OUT, chunks(frame(msg(b"log", b"stdout"), True), DEVNULL) +
                            chunks(frame(msg(b"status", b"0")))),
}


def answer(status, ident=b"1", error=None, errno=None):
    """A beambox/2 answer: cmd=[status, N] id=[ID] (error=[TEXT] errno=[N])."""
    m = msg(b"status", status) + ns(b"id") + ns(ns(ident))
    if error is not None:
        m += ns(b"error") + ns(ns(error))
    if errno is not None:
        m += ns(b"errno") + ns(ns(errno))
    return m


# beambox/2: the byte 0xB2, then the flags; the script goes on the main socket
remote2 = {
    "v2_status": (0, chunks(frame(answer(b"0")))),
    "v2_error_errno": (CAP_ERR, chunks(frame(answer(b"1", error=b"disk", errno=b"5")))),
    "v2_streams": (CAP_OUT | CAP_ERR | STDIN_BUF | LIMIT_64, chunks(frame(answer(b"0")))),
    "v2_relayed": (OUT_NULL | RELAYED, chunks(frame(answer(b"0")))),
    "v2_duplicate": (0, chunks(frame(answer(b"0")) + frame(answer(b"0")))),
    "v2_unknown_id": (0, chunks(frame(answer(b"0", b"7")))),
    "v2_no_id": (0, chunks(frame(msg(b"status", b"0")))),
    "v2_bad_errno": (0, chunks(frame(answer(b"1", error=b"x", errno=b"4096")))),
    "v2_errno_alone": (0, chunks(frame(answer(b"1", errno=b"5")))),
    "v2_fd_attached": (0, chunks(frame(answer(b"0")), DEVNULL)),
    "v2_fd_bit": (0, chunks(frame(answer(b"0"), True))),
    "v2_count_bits": (0, chunks(struct.pack(">I", 0x60000000))),
    "v2_truncated": (0, chunks(frame(answer(b"0"))[:15])),
    "v2_over_limit": (0, chunks(struct.pack(">I", 0x1fffffff))),
    "v2_unexpected_verb": (0, chunks(frame(msg(b"log", b"stdout")))),
    "v2_eof": (CAP_OUT, b""),
}

cli = {
    "help": [b"beambox", b"help"],
    "version": [b"beambox", b"--version"],
    "demo": [b"beambox", b"demo"],
    "demo_extra": [b"beambox", b"demo", b"x"],
    "exec": [b"beambox", b"exec", b"--", b"/bin/true", b"a"],
    "exec_policy": [b"beambox", b"exec", b"--policy", b"p.policy", b"prog"],
    "exec_policy_eq": [b"beambox", b"exec", b"--policy=p", b"--", b"prog", b"--policy"],
    "exec_policy_twice": [b"beambox", b"exec", b"--policy=a", b"--policy", b"b", b"prog"],
    "exec_missing": [b"beambox", b"exec", b"--policy"],
    "exec_option": [b"beambox", b"exec", b"-x"],
    "unknown": [b"beambox", b"nope"],
    "empty": [b"beambox"],
}


def write(name, files):
    d = os.path.join(here, name)
    os.makedirs(d, exist_ok=True)
    for k, v in files.items():
        with open(os.path.join(d, k), "wb") as f:
            f.write(v)


write("remote_fuzz", {k: bytes([f]) + s for k, (f, s) in remote.items()})
write("remote_fuzz", {k: b"\xb2" + bytes([f]) + s for k, (f, s) in remote2.items()})
write("cli_args_fuzz", {k: b"\0".join(v) for k, v in cli.items()})
