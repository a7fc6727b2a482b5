"""Sends N keep-alive GET requests on one connection, one at a time, and checks each 200.

usage: keepalive-client.py N [PORT] (127.0.0.1; default 18090). Used by callgrind-per-request.sh;
the client's own speed does not matter there (only the proxy runs under callgrind).
"""
import socket, sys
n = int(sys.argv[1]); port = int(sys.argv[2]) if len(sys.argv) > 2 else 18090
s = socket.create_connection(("127.0.0.1", port))
req = b"GET /r999/x HTTP/1.1\r\nHost: bench\r\nUser-Agent: cg\r\nAccept: */*\r\n\r\n"
buf = b""
for i in range(n):
    s.sendall(req)
    while True:
        i2 = buf.find(b"\r\n\r\n")
        if i2 >= 0:
            head = buf[:i2].decode()
            cl = 0
            for l in head.split("\r\n")[1:]:
                k, v = l.split(":", 1)
                if k.lower() == "content-length": cl = int(v)
            if len(buf) >= i2 + 4 + cl:
                assert head.startswith("HTTP/1.1 200"), head
                buf = buf[i2 + 4 + cl:]
                break
        d = s.recv(65536)
        if not d: raise SystemExit("closed")
        buf += d
print("ok", n)
