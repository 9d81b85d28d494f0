#!/usr/bin/env python3
"""Builds the seed corpus of DecoderFuzzTest from the golden transcripts (nbd-codec/src/test/resources/golden).

Each seed is the 21-byte head that DecoderFuzzTest expects (option bits, split seed, four resolver lengths) followed
by a stream cut from a transcript: the server's handshake bytes (clientHandshakeDecoder), the server's transmission
bytes (replyDecoder), the client's handshake bytes (serverHandshakeDecoder) or the client's transmission bytes
(requestDecoder). Streams are cut to 8 KiB. Run: python3 mk_fuzz_seeds.py
"""
import collections
import os
import struct

GOLDEN = os.path.dirname(os.path.abspath(__file__))
HERE = os.path.normpath(os.path.join(GOLDEN, '..', 'io', 'nbdnetty', 'codec', 'DecoderFuzzTestInputs'))
MAX = 8192
TRANSCRIPTS = ['qemu-nbd-rw', 'qemu-nbd-multichunk', 'qemu-nbd-nbdinfo-map', 'nbdkit-memory-rw-simple',
               'nbdkit-memory-rw-structured', 'nbdkit-error-structured', 'nbdkit-exportname-desc-nbdinfo-list',
               'nbd-server-rw', 'nbdkit-oldstyle-read', 'nbdkit-memory-opt-export-name',
               'qemu-nbd-opt-extended-headers-probe', 'qemu-nbd-nbdinfo-map-dirty-bitmap',
               'qemu10-io-nbd-serve', 'qemu10-nbd-map', 'qemu10-nbd-copy-out']


def streams(name):
    c, s = bytearray(), bytearray()
    for line in open(os.path.join(GOLDEN, name + '.txt')):
        if line.startswith('C '):
            c += bytes.fromhex(line[2:].strip())
        elif line.startswith('S '):
            s += bytes.fromhex(line[2:].strip())
    return bytes(c), bytes(s)


def split_client(c):
    """Returns (handshake bytes, transmission bytes, export-name used) of the client stream."""
    at = 4
    while at + 16 <= len(c):
        opt, length = struct.unpack_from('>II', c, at + 8)
        at += 16 + length
        if opt in (1, 7):  # EXPORT_NAME, GO
            return c[:at], c[at:], opt == 1
        if opt == 2:  # ABORT
            break
    return c[:at], b'', False


def split_server(s, export_name):
    """Returns (handshake bytes, transmission bytes, extended headers negotiated) of the server stream."""
    if s[8:16] != b'IHAVEOPT':
        return s[:152], s[152:], False
    at, ext = 18, False
    while at + 20 <= len(s):
        magic, opt, typ, length = struct.unpack_from('>QIII', s, at)
        if magic != 0x3e889045565a9:
            break
        at += 20 + length
        if opt == 11 and typ == 1:
            ext = True
        if opt == 7 and typ == 1:
            return s[:at], s[at:], ext
    if export_name:
        end = at + 10 + (0 if (struct.unpack_from('>H', s, 16)[0] & 2) else 124)
        return s[:end], s[end:], ext
    return s[:at], s[at:], ext


def read_length(c, ext):
    lengths = collections.Counter()
    hl = 32 if ext else 28
    at = 0
    while at + hl <= len(c):
        flags, typ = struct.unpack_from('>HH', c, at + 4)
        length = struct.unpack_from('>Q' if ext else '>I', c, at + 24)[0]
        at += hl
        if typ == 0:
            lengths[length] += 1
        if (ext and flags & 0x20) or (not ext and typ == 1):
            at += length
    return lengths.most_common(1)[0][0] if lengths else 0


def write(target, name, flags, stream, length=0):
    if not stream:
        return
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    head = struct.pack('>BIiiii', flags, 0x5eed, length, length, length, length)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(head + stream[:MAX])


for t in TRANSCRIPTS:
    c, s = streams(t)
    ch, ct, export_name = split_client(c)
    sh, st, ext = split_server(s, export_name)
    switch = 4 if export_name else 0
    write('clientHandshakeDecoder', t, switch | (0 if export_name else 2), sh)
    write('replyDecoder', t, 1 if ext else 0, st, read_length(ct, ext))
    write('serverHandshakeDecoder', t, 0, ch)
    write('requestDecoder', t, 1 if ext else 0, ct)
