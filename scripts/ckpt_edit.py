#!/usr/bin/env python3
"""Copy an asrc checkpoint with settings changed or parameter tensors zeroed, for what-if
analyses of a trained network (Python 3 standard library only).

    scripts/ckpt_edit.py IN.ckpt --list
    scripts/ckpt_edit.py IN.ckpt OUT.ckpt [--set config.KEY=VALUE]... [--zero param.NAME]...

Example: which path makes a trained ScSr network's gradients explode? Zero layer 1's
self-loops, or let the gradient bypass the reset, and run asrc-analyze gradient-flow on
the copies (docs/results/scsr/README.md):

    scripts/ckpt_edit.py RUN/last.ckpt /tmp/noself.ckpt --zero param.hidden0.self
    scripts/ckpt_edit.py RUN/last.ckpt /tmp/detach.ckpt --set config.detach-reset=1
    build/examples/asrc-analyze gradient-flow --checkpoint /tmp/noself.ckpt --dataset-dir data/mnist

The file format is that of include/asrc/io/checkpoint.hpp (docs/checkpoint-format.md).
IN is read whole and checked (magic, version, record lengths, CRC-32); --set changes only
metadata entries that exist (a misspelt key is refused, not added) and --zero only tensors
that exist. OUT is written to a temporary file and renamed, and may not be IN.
"""
import os
import struct
import sys
import zlib

MAGIC = b"ASRCCKPT"
VERSION = 1
META, TENSOR, INTS, END = 1, 2, 3, 255


def fail(msg):
    print(f"ckpt_edit.py: {msg}", file=sys.stderr)
    sys.exit(2)


def read_str(buf, off, path, what):
    if off + 8 > len(buf):
        fail(f"{path}: expected the length of {what} at payload offset {off}, got the end of the record")
    n = struct.unpack_from("<Q", buf, off)[0]
    if off + 8 + n > len(buf):
        fail(f"{path}: expected {n} bytes of {what} at payload offset {off + 8}, got {len(buf) - off - 8}")
    return buf[off + 8:off + 8 + n].decode("utf-8"), off + 8 + n


def read(path):
    """The records of a checkpoint as [kind, payload] after checking the file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != MAGIC:
        fail(f"{path}: expected the magic ASRCCKPT at offset 0, got {data[:8]!r}")
    version = struct.unpack_from("<I", data, 8)[0] if len(data) >= 12 else None
    if version != VERSION:
        fail(f"{path}: expected format version {VERSION} at offset 8, got {version}")
    records, off = [], 12
    while True:
        if off + 12 > len(data):
            fail(f"{path}: expected a record header at offset {off}, got the end of the file (truncated?)")
        kind, length = struct.unpack_from("<IQ", data, off)
        if length > len(data) - off - 12:
            fail(f"{path}: expected a record of at most {len(data) - off - 12} bytes at offset {off}, got {length}")
        payload = data[off + 12:off + 12 + length]
        if kind == END:
            if length != 4 or off + 16 != len(data):
                fail(f"{path}: expected the end record (4 bytes) last, at offset {off}")
            if struct.unpack("<I", payload)[0] != zlib.crc32(data[:off + 12]):
                fail(f"{path}: expected the CRC-32 of the file in its end record, got a mismatch")
            return records
        if kind not in (META, TENSOR, INTS):
            fail(f"{path}: expected a record kind 1, 2, 3 or 255 at offset {off}, got {kind}")
        records.append([kind, payload])
        off += 12 + length


def metadata(payload, path):
    count = struct.unpack_from("<Q", payload, 0)[0]
    off, items = 8, []
    for _ in range(count):
        key, off = read_str(payload, off, path, "a metadata key")
        value, off = read_str(payload, off, path, "a metadata value")
        items.append((key, value))
    return items


def pack_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def tensor_header(payload, path):
    """(name, dtype, rows, cols, offset of the values) of a tensor record."""
    name, off = read_str(payload, 0, path, "a tensor name")
    dtype = payload[off]
    rows, cols = struct.unpack_from("<QQ", payload, off + 1)
    size = {1: 4, 2: 8}.get(dtype)
    if size is None or off + 17 + rows * cols * size != len(payload):
        fail(f"{path}: expected tensor '{name}' to hold rows x cols values of dtype 1 or 2, got dtype {dtype}, "
             f"{rows} x {cols} in {len(payload) - off - 17} bytes")
    return name, dtype, rows, cols, off + 17


def main(argv):
    if len(argv) < 2 or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    src = argv[0]
    if not os.path.isfile(src):
        fail(f"expected a checkpoint file, got '{src}'")
    records = read(src)
    if argv[1] == "--list":
        for kind, payload in records:
            if kind == META:
                for k, v in metadata(payload, src):
                    print(f"{k} = {v}")
            elif kind == TENSOR:
                name, dtype, rows, cols, _ = tensor_header(payload, src)
                print(f"tensor {name}: {rows} x {cols} {'float32' if dtype == 1 else 'float64'}")
        return 0
    dst, sets, zeros = argv[1], {}, []
    rest = argv[2:]
    if os.path.exists(dst) and os.path.samefile(src, dst):
        fail(f"expected an output file other than the input, got '{dst}' for both")
    while rest:
        if rest[0] == "--set" and len(rest) >= 2 and "=" in rest[1]:
            key, value = rest[1].split("=", 1)
            sets[key] = value
        elif rest[0] == "--zero" and len(rest) >= 2:
            zeros.append(rest[1])
        else:
            fail(f"expected --set KEY=VALUE or --zero TENSOR, got '{' '.join(rest[:2])}'")
        rest = rest[2:]
    out, seen_keys, seen_tensors = bytearray(MAGIC + struct.pack("<I", VERSION)), set(), set()
    for kind, payload in records:
        if kind == META:
            items = metadata(payload, src)
            seen_keys |= {k for k, _ in items}
            items = [(k, sets.get(k, v)) for k, v in items]
            payload = struct.pack("<Q", len(items)) + b"".join(pack_str(k) + pack_str(v) for k, v in items)
        elif kind == TENSOR:
            name, _, _, _, values = tensor_header(payload, src)
            seen_tensors.add(name)
            if name in zeros:
                payload = payload[:values] + bytes(len(payload) - values)  # +0.0 in float32 and float64
        out += struct.pack("<IQ", kind, len(payload)) + payload
    for key in sets:
        if key not in seen_keys:
            fail(f"{src}: expected an existing metadata key for --set (see --list), got '{key}'")
    for name in zeros:
        if name not in seen_tensors:
            fail(f"{src}: expected an existing tensor for --zero (see --list), got '{name}'")
    out += struct.pack("<IQ", END, 4)
    out += struct.pack("<I", zlib.crc32(bytes(out)))
    tmp = f"{dst}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(out)
    os.replace(tmp, dst)
    print(f"wrote {dst}: {len(sets)} setting(s) changed, {len(zeros)} tensor(s) zeroed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
