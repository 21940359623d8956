"""Forwards TCP connections from the host's loopback into the cluster's network namespace.

The whole local cluster lives in a network namespace with no way out; this is the one way in.
It listens on 127.0.0.1 of the host only (so only the host can connect) and opens each
upstream connection inside the namespace, to an address there or to a Service name, which
it resolves through the cluster's DNS at every connection (so a re-created Service is found).

Forwards are files in --config-dir, re-read every second: ``<name>.conf`` holding
``<host port> <target host>:<target port>``, e.g. ``6443 127.0.0.1:6443`` or
``15000 mlflow.mlflow.svc.cluster.local:5000``. Tests add and remove their own.

Usage: forwarder.py --netns /run/netns/NAME --config-dir DIR --dns 10.96.0.10
"""

import argparse
import asyncio
import contextlib
import ipaddress
import os
import random
import socket
import struct
import sys
import time

from netns import Namespace


def log(message):
    print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), message, flush=True)


def _dns_query(name):
    query_id = random.randrange(1 << 16)
    header = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.rstrip(".").split("."))
    return query_id, header + labels + b"\0" + struct.pack("!HH", 1, 1)


def _skip_name(data, offset):
    while True:
        length = data[offset]
        if length & 0xC0 == 0xC0:
            return offset + 2
        if length == 0:
            return offset + 1
        offset += length + 1


def _dns_answer(data, query_id):
    reply_id, flags, questions, answers = struct.unpack("!HHHH", data[:8])
    if reply_id != query_id or flags & 0x000F:
        return None
    offset = 12
    for _question in range(questions):
        offset = _skip_name(data, offset) + 4
    for _answer in range(answers):
        offset = _skip_name(data, offset)
        rtype, _cls, _ttl, length = struct.unpack("!HHIH", data[offset : offset + 10])
        offset += 10
        if rtype == 1 and length == 4:
            return socket.inet_ntoa(data[offset : offset + 4])
        offset += length
    return None


async def resolve(ns, dns_server, host):
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(host))
    loop = asyncio.get_running_loop()
    sock = ns.socket(socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, (dns_server, 53))
        query_id, packet = _dns_query(host)
        await loop.sock_sendall(sock, packet)
        reply = await asyncio.wait_for(loop.sock_recv(sock, 4096), 3)
    finally:
        sock.close()
    address = _dns_answer(reply, query_id)
    if address is None:
        raise OSError(f"cluster DNS has no address for {host}")
    return address


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()


class Forward:
    def __init__(self, ns, dns_server, port, target):
        self.ns, self.dns_server, self.port, self.target = ns, dns_server, port, target
        self.server = None

    async def open(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", self.port, reuse_address=True)
        log(f"forwarding 127.0.0.1:{self.port} -> {self.target}")

    async def close(self):
        self.server.close()
        await self.server.wait_closed()
        log(f"stopped forwarding 127.0.0.1:{self.port}")

    async def handle(self, client_reader, client_writer):
        host, port = self.target.rsplit(":", 1)
        try:
            address = await resolve(self.ns, self.dns_server, host)
            sock = self.ns.socket(socket.SOCK_STREAM)
            sock.setblocking(False)
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (address, int(port))), 10)
            upstream_reader, upstream_writer = await asyncio.open_connection(sock=sock)
        except (OSError, asyncio.TimeoutError) as exc:
            log(f"127.0.0.1:{self.port} -> {self.target}: {exc or type(exc).__name__}")
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))
        for writer in (client_writer, upstream_writer):
            writer.close()


def read_config(directory):
    wanted = {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".conf"):
            continue
        with contextlib.suppress(FileNotFoundError), open(os.path.join(directory, name)) as handle:
            fields = handle.read().split()
        if len(fields) == 2 and fields[0].isdigit():
            wanted[int(fields[0])] = fields[1]
        else:
            log(f"{name}: expected '<host port> <target host>:<port>', got {fields}")
    return wanted


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--netns", required=True)
    parser.add_argument("--config-dir", required=True)
    parser.add_argument("--dns", required=True)
    args = parser.parse_args()
    ns = Namespace(args.netns)
    active, refused = {}, set()
    while True:
        wanted = read_config(args.config_dir)
        for port in [p for p, fwd in active.items() if wanted.get(p) != fwd.target]:
            await active.pop(port).close()
        for port, target in wanted.items():
            if port in active:
                continue
            forward = Forward(ns, args.dns, port, target)
            try:
                await forward.open()
            except OSError as exc:
                if (port, target) not in refused:  # retried every second, reported once
                    log(f"cannot listen on 127.0.0.1:{port} for {target}: {exc}")
                    refused.add((port, target))
                continue
            refused.discard((port, target))
            active[port] = forward
        await asyncio.sleep(1)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main()))
