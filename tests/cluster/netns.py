"""Sockets inside the local cluster's network namespace, made by a process outside it.

setns(2) switches only the calling thread, and a socket keeps the namespace it was made in, so
a host process can listen or connect inside the cluster without entering it. Used by the
forwarder and by tests that serve something to the cluster's pods (the fake GitHub).
"""

import ctypes
import os
import socket

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class Namespace:
    def __init__(self, path):
        self.cluster = os.open(path, os.O_RDONLY)
        self.host = os.open("/proc/self/ns/net", os.O_RDONLY)

    def _enter(self, fd):
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "setns: " + os.strerror(err))

    def socket(self, kind=socket.SOCK_STREAM):
        self._enter(self.cluster)
        try:
            sock = socket.socket(socket.AF_INET, kind)
        finally:
            self._enter(self.host)
        return sock

    def listen(self, address):
        """A TCP socket listening on address (host, port) inside the cluster's namespace."""
        sock = self.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(64)
        return sock

    def close(self):
        os.close(self.cluster)
        os.close(self.host)
