#!/usr/bin/env python3
# Writes the hand-made seeds of tests/fuzz/proxy_v2/corpus (hand-*); run from the repository root.
# The found-* files there are small inputs libFuzzer found, kept for their coverage.
import os, struct, random
d = 'tests/fuzz/proxy_v2/corpus'
os.makedirs(d, exist_ok=True)
SIG = b'\r\n\r\n\x00\r\nQUIT\n'
def hdr(cmd, fam, body): return SIG + bytes([cmd, fam]) + struct.pack('>H', len(body)) + body
v4 = bytes([192,0,2,10, 10,0,0,5]) + struct.pack('>HH', 51234, 443)
v6 = bytes.fromhex('20010db8000000000000000000000001') + bytes.fromhex('fd000000000000000000000000000002') + struct.pack('>HH', 12345, 80)
vpce = b'\x01vpce-08d2bf15fac5001c9'
tlvs = bytes([0x01]) + struct.pack('>H', 2) + b'h2' + bytes([0xEA]) + struct.pack('>H', len(vpce)) + vpce
seeds = {
  'hand-tcp4': hdr(0x21, 0x11, v4) + b'GET / HTTP/1.1\r\n\r\n',
  'hand-udp4': hdr(0x21, 0x12, v4),
  'hand-tcp6': hdr(0x21, 0x21, v6),
  'hand-udp6': hdr(0x21, 0x22, v6) + b'payload',
  'hand-local': hdr(0x20, 0x00, b''),
  'hand-local-addresses': hdr(0x20, 0x11, v4),
  'hand-tcp4-tlvs': hdr(0x21, 0x11, v4 + tlvs),
  'hand-unspec-proxy': hdr(0x21, 0x00, b''),
  'hand-truncated-tcp6': hdr(0x21, 0x21, v6)[:30],
  'hand-truncated-signature': SIG[:7],
  'hand-bad-tlv': hdr(0x21, 0x11, v4 + b'\xea\x00\x09ab'),
  'hand-unix': hdr(0x21, 0x31, bytes(216)),
  'hand-v1': b'PROXY TCP4 192.0.2.1 10.0.0.1 5000 80\r\n',
  'hand-too-long': hdr(0x21, 0x11, v4 + bytes([0x04]) + struct.pack('>H', 1200) + bytes(1200)),
}
for name, body in seeds.items():
    open(os.path.join(d, name), 'wb').write(b'\x00\x00' + body)
# encode mode: flags then two 18-byte (address, port) fields
for flags in (0x03, 0x00, 0x05, 0x01):
    random.seed(flags)
    open(os.path.join(d, 'hand-encode-%02x' % flags), 'wb').write(bytes([1, flags]) + bytes(random.randrange(256) for _ in range(36)))
# flow table mode: capacity, timeout, then (op|step<<2, port, client) triples
random.seed(7)
ops = b''.join(bytes([random.randrange(4) | (random.randrange(8) << 2), random.randrange(12), random.randrange(2)]) for _ in range(200))
open(os.path.join(d, 'hand-table-small'), 'wb').write(bytes([2, 3, 5]) + ops)
open(os.path.join(d, 'hand-table-evict'), 'wb').write(bytes([2, 0, 255]) + b''.join(bytes([0 | (1 << 2), p, 0]) for p in range(20)))
