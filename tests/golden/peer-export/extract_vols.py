"""Cuts the `vols` dict of one FRIEND_ADD call out of a pcap, as raw bytes.

Usage: python3 extract_vols.py probe3.pcap FRAME OUT.bin

Reassembles each TCP direction's record-marked stream (tshark prints the payloads), finds the
RPC record that completes in frame FRAME, checks that it is a GD_FRIEND v2 FRIEND_ADD call
(1238437 / 2 / 2) sent as one last fragment, decodes gd1_mgmt_friend_req (uuid as 16 words,
hostname, port, vols) and writes the vols opaque without its length word or padding. It then
prints the dict's pairs in wire order, with their value lengths, as a check.
"""
import struct
import subprocess
import sys

pcap, want_frame, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
fields = subprocess.run(
    ['tshark', '-r', pcap, '-T', 'fields', '-e', 'frame.number', '-e', 'ip.src',
     '-e', 'tcp.srcport', '-e', 'ip.dst', '-e', 'tcp.dstport', '-e', 'tcp.payload'],
    capture_output=True, text=True, check=True).stdout


class Reader:
    def __init__(self, b):
        self.b, self.o = b, 0

    def u32(self):
        v = struct.unpack('>I', self.b[self.o:self.o + 4])[0]
        self.o += 4
        return v

    def i32(self):
        v = struct.unpack('>i', self.b[self.o:self.o + 4])[0]
        self.o += 4
        return v

    def opaque(self):
        n = self.u32()
        v = self.b[self.o:self.o + n]
        self.o += (n + 3) // 4 * 4
        return v

    def uuid(self):
        return bytes(self.u32() & 255 for _ in range(16)).hex()


streams = {}
found = False
for line in fields.splitlines():
    f = line.split('\t')
    if len(f) < 6 or not f[5]:
        continue
    key = (f[1], f[2], f[3], f[4])
    buf = streams.get(key, b'') + bytes.fromhex(f[5])
    while len(buf) >= 4:
        mark = struct.unpack('>I', buf[:4])[0]
        n = mark & 0x7fffffff
        if len(buf) < 4 + n:
            break
        record, buf = buf[4:4 + n], buf[4 + n:]
        if f[0] != want_frame:
            continue
        assert mark & 0x80000000, 'not a last fragment'
        r = Reader(record)
        r.u32()  # xid
        assert r.u32() == 0, 'not a call'
        r.u32()  # rpcvers
        prog, vers, proc = r.u32(), r.u32(), r.u32()
        assert (prog, vers, proc) == (1238437, 2, 2), (prog, vers, proc)
        r.u32(); r.opaque(); r.u32(); r.opaque()  # credential, verifier
        uuid, host, port, vols = r.uuid(), r.opaque(), r.i32(), r.opaque()
        assert r.o == len(record)
        with open(out_path, 'wb') as out:
            out.write(vols)
        found = True
        print(f'frame {want_frame}: uuid {uuid} host {host!r} port {port} vols {len(vols)} bytes')
        d = Reader(vols)
        for _ in range(d.i32()):
            kl, vl = d.i32(), d.i32()
            k = vols[d.o:d.o + kl]
            assert vols[d.o + kl] == 0
            d.o += kl + 1
            v = vols[d.o:d.o + vl]
            d.o += vl
            print(f'{k.decode()} {vl} {v!r}')
        assert d.o == len(vols)
    streams[key] = buf
sys.exit(0 if found else f'no FRIEND_ADD call completes in frame {want_frame}')
