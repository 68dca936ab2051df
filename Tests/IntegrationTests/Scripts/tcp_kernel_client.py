"""Kernel-side TCP clients for the capnet integration tests.

Each mode prints one JSON object on standard output and exits 0; the Swift
test decides what passes. Every loop is bounded by a byte count, a connection
count or a deadline. Run it inside the test's network namespace only.
"""
import hashlib
import json
import os
import random
import selectors
import socket
import struct
import sys
import threading
import time

CHUNK = 64 * 1024


def pattern(seed, size):
    """Deterministic bytes for one stream: the test compares digests of it."""
    return random.Random(seed).randbytes(size)


def bulk(host, port, size, seed, timeout):
    """Sends `size` bytes from a writer thread, reads the echo on this one,
    then half-closes and reads to end of stream."""
    data = pattern(seed, size)
    started = time.monotonic()
    s = socket.create_connection((host, port), timeout=timeout)
    s.settimeout(timeout)
    errors = []

    def send():
        try:
            view = memoryview(data)
            for offset in range(0, size, CHUNK):
                s.sendall(view[offset:offset + CHUNK])
            s.shutdown(socket.SHUT_WR)
        except OSError as error:
            errors.append("send: %r" % error)

    writer = threading.Thread(target=send)
    writer.start()
    digest = hashlib.sha256()
    received = 0
    deadline = started + timeout
    try:
        while time.monotonic() < deadline:
            chunk = s.recv(CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            received += len(chunk)
    except OSError as error:
        errors.append("receive: %r" % error)
    writer.join(timeout)
    s.close()
    return {"sent_sha256": hashlib.sha256(data).hexdigest(), "received_sha256": digest.hexdigest(),
            "received": received, "seconds": round(time.monotonic() - started, 2), "errors": errors}


def many(host, port, count, size, timeout):
    """Opens `count` connections at once; each sends `size` bytes of its own
    pattern and reads its echo. Reports the connections whose echo differs."""
    base = pattern(count, 2 * size)
    view = memoryview(base)
    started = time.monotonic()
    selector = selectors.DefaultSelector()
    streams = []
    for index in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((host, port))
        offset = (index * 2099) % size
        stream = {"index": index, "socket": s, "data": view[offset:offset + size], "sent": 0,
                  "received": 0, "digest": hashlib.sha256(), "done": False, "error": None}
        streams.append(stream)
        selector.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, stream)
    remaining = count
    deadline = started + timeout
    while remaining and time.monotonic() < deadline:
        for key, events in selector.select(timeout=1):
            stream = key.data
            s = stream["socket"]
            try:
                if events & selectors.EVENT_WRITE and stream["sent"] < size:
                    stream["sent"] += s.send(stream["data"][stream["sent"]:stream["sent"] + CHUNK])
                    if stream["sent"] == size:
                        s.shutdown(socket.SHUT_WR)
                        selector.modify(s, selectors.EVENT_READ, stream)
                if events & selectors.EVENT_READ:
                    chunk = s.recv(CHUNK)
                    if chunk:
                        stream["digest"].update(chunk)
                        stream["received"] += len(chunk)
                    else:
                        stream["done"] = True
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as error:
                stream["error"] = repr(error)
                stream["done"] = True
            if stream["done"]:
                selector.unregister(s)
                s.close()
                remaining -= 1
    failed = []
    for stream in streams:
        expected = hashlib.sha256(stream["data"]).hexdigest()
        if stream["error"] or not stream["done"] or stream["digest"].hexdigest() != expected:
            failed.append({"index": stream["index"], "sent": stream["sent"], "received": stream["received"],
                           "error": stream["error"]})
    return {"connections": count, "failed": len(failed), "first_failures": failed[:5],
            "seconds": round(time.monotonic() - started, 2)}


def echo_once(host, port, payload, timeout, source_port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(timeout)
    if source_port:
        s.bind(("0.0.0.0", source_port))
    s.connect((host, port))
    s.sendall(payload)
    received = b""
    while len(received) < len(payload):
        chunk = s.recv(CHUNK)
        if not chunk:
            break
        received += chunk
    return s, received


def abort(host, port, timeout):
    """Echoes a little, then closes with SO_LINGER {1, 0} so the kernel sends
    RST; then connects again from the same source port and echoes."""
    payload = b"abortive close " * 100
    s, first = echo_once(host, port, payload, timeout)
    source_port = s.getsockname()[1]
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    close_error = None
    try:
        s.close()
    except OSError as error:
        close_error = repr(error)
    again, second = echo_once(host, port, payload, timeout, source_port=source_port)
    again.close()
    return {"source_port": source_port, "first_intact": first == payload, "close_error": close_error,
            "second_intact": second == payload}


def refused(host, port, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        outcome = "connected"
    except ConnectionRefusedError:
        outcome = "refused"
    except socket.timeout:
        outcome = "timeout"
    s.close()
    return {"outcome": outcome}


def half_close(host, port, size, timeout):
    """Sends `size` bytes, shuts down the write side before reading anything,
    then reads the echo and the end of stream (RFC 9293 §3.6)."""
    data = pattern(size, size)
    s = socket.create_connection((host, port), timeout=timeout)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    received = bytearray()
    error = None
    end_of_stream = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            chunk = s.recv(CHUNK)
            if not chunk:
                end_of_stream = True
                break
            received += chunk
    except OSError as error_value:
        error = repr(error_value)
    s.close()
    return {"intact": bytes(received) == data, "received": len(received), "end_of_stream": end_of_stream,
            "error": error}


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def syn_flood(source, host, port, count, first_port, rng_seed):
    """Sends `count` SYNs from `source` with source ports counting up from
    `first_port`, through a raw socket that writes the IPv4 header itself, so
    `source` may be an address no host on the link has."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    raw.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    rng = random.Random(rng_seed)
    source_bytes = socket.inet_aton(source)
    destination_bytes = socket.inet_aton(host)
    mss_option = struct.pack("!BBH", 2, 4, 1460)
    header_words = (20 + len(mss_option)) // 4
    sent = 0
    for index in range(count):
        source_port = first_port + index
        sequence = rng.getrandbits(32)
        header = struct.pack("!HHIIBBHHH", source_port, port, sequence, 0, header_words << 4, 0x02,
                             65535, 0, 0) + mss_option
        pseudo = source_bytes + destination_bytes + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(header))
        header = header[:16] + struct.pack("!H", checksum(pseudo + header)) + header[18:]
        # Version 4, 20-byte header, TTL 64; Linux fills in the total length,
        # the identification and the header checksum of a raw IP_HDRINCL packet.
        ip_header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0, 64, socket.IPPROTO_TCP, 0,
                                source_bytes, destination_bytes)
        header = ip_header + header
        while True:
            try:
                raw.sendto(header, (host, 0))
                break
            except BlockingIOError:
                time.sleep(0.001)
            except OSError as error:
                # ENOBUFS: the tap's queue is full; wait for the stack to read it.
                if error.errno != 105:
                    raise
                time.sleep(0.001)
        sent += 1
    raw.close()
    return sent


def flood(source, host, port, count, timeout):
    """Floods the port with `count` spoofed SYNs from `source` while one
    kernel connection echoes through it; the legitimate connection starts
    after the first half."""
    half = count // 2
    sent = syn_flood(source, host, port, half, 20000, 1)
    result = {}

    def rest():
        result["rest"] = syn_flood(source, host, port, count - half, 20000 + half, 2)

    flooder = threading.Thread(target=rest)
    flooder.start()
    payload = pattern(3, 100000)
    started = time.monotonic()
    error = None
    echoed = b""
    try:
        s, echoed = echo_once(host, port, payload, timeout)
        s.close()
    except OSError as error_value:
        error = repr(error_value)
    flooder.join(timeout)
    return {"syns_sent": sent + result.get("rest", 0), "intact": echoed == payload, "error": error,
            "echo_seconds": round(time.monotonic() - started, 2)}


def main():
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    args = sys.argv[4:]
    if mode == "bulk":
        result = bulk(host, port, int(args[0]), int(args[1]), float(args[2]))
    elif mode == "many":
        result = many(host, port, int(args[0]), int(args[1]), float(args[2]))
    elif mode == "abort":
        result = abort(host, port, float(args[0]))
    elif mode == "refused":
        result = refused(host, port, float(args[0]))
    elif mode == "half-close":
        result = half_close(host, port, int(args[0]), float(args[1]))
    elif mode == "flood":
        result = flood(args[0], host, port, int(args[1]), float(args[2]))
    else:
        sys.exit("unknown mode %r: expected bulk, many, abort, refused, half-close or flood" % mode)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
