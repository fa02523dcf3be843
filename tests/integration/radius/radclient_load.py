#!/usr/bin/env python3
"""A RADIUS load that records every request: PAP Access-Requests (RFC 2865
section 5.2 password hiding) from THREADS threads, each its own UDP socket,
one request in flight per thread, until STOP_FILE exists.

  radclient_load.py PORT SECRET USERS_FILE CODE_FILE STOP_FILE THREADS OUT

USERS_FILE: "user password" lines, taken round-robin. CODE_FILE: the code to
append to the password (re-read before each request, so the caller can move
it on). OUT gets one line per request as it completes (so that a caller can
wait for progress): send_time reply_time user result, times in seconds
(time.time()), result accept|reject|timeout.
"""
import hashlib
import os
import socket
import struct
import sys
import threading
import time

port, secret = int(sys.argv[1]), sys.argv[2].encode()
users = [line.split() for line in open(sys.argv[3]) if line.strip()]
code_file, stop_file, threads, out_path = sys.argv[4], sys.argv[5], int(sys.argv[6]), sys.argv[7]
lock = threading.Lock()
out = open(out_path, "w", buffering=1)  # line-buffered: each line lands when written
next_user = [0]


def hide(password, authenticator):
    padded = password + b"\0" * (-len(password) % 16 or (16 if not password else 0))
    out, previous = b"", authenticator
    for i in range(0, len(padded), 16):
        digest = hashlib.md5(secret + previous).digest()
        block = bytes(a ^ b for a, b in zip(padded[i:i + 16], digest))
        out += block
        previous = block
    return out


def request(sock, ident, user, password):
    authenticator = os.urandom(16)
    attrs = b""
    for kind, value in ((1, user.encode()), (2, hide(password.encode(), authenticator))):
        attrs += struct.pack("BB", kind, len(value) + 2) + value
    packet = struct.pack("!BBH", 1, ident, 20 + len(attrs)) + authenticator + attrs
    sent = time.time()
    sock.send(packet)
    deadline = sent + 5.0
    while True:
        left = deadline - time.time()
        if left <= 0:
            return sent, time.time(), "timeout"
        sock.settimeout(left)
        try:
            reply = sock.recv(4096)
        except socket.timeout:
            return sent, time.time(), "timeout"
        if len(reply) >= 20 and reply[1] == ident:
            return sent, time.time(), {2: "accept", 3: "reject"}.get(reply[0], "other")


def worker():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", port))
    ident = 0
    while not os.path.exists(stop_file):
        with lock:
            user, password = users[next_user[0] % len(users)]
            next_user[0] += 1
        code = open(code_file).read().strip()
        ident = (ident + 1) % 256
        sent, replied, result = request(sock, ident, user, password + code)
        with lock:
            out.write(f"{sent:.3f} {replied:.3f} {user} {result}\n")


pool = [threading.Thread(target=worker) for _ in range(threads)]
for t in pool:
    t.start()
for t in pool:
    t.join()
out.close()
