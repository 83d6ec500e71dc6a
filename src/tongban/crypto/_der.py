"""The few DER shapes SM2 needs (GM/T 0009-2012), parsed strictly: canonical lengths and
integers, nothing trailing. Anything else raises KeyFormatError."""

from __future__ import annotations

from tongban.crypto.errors import KeyFormatError

_SEQUENCE = 0x30
_INTEGER = 0x02
_OCTET_STRING = 0x04


def _encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _encode_length(len(value)) + value


def encode_integer(value: int) -> bytes:
    """A non-negative INTEGER in minimal two's-complement form."""
    if value < 0:
        raise KeyFormatError("negative INTEGER")
    body = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    if body[0] & 0x80:
        body = b"\x00" + body
    return _tlv(_INTEGER, body)


def encode_octet_string(value: bytes) -> bytes:
    return _tlv(_OCTET_STRING, value)


def encode_sequence(*items: bytes) -> bytes:
    return _tlv(_SEQUENCE, b"".join(items))


class _Reader:
    __slots__ = ("buf", "pos", "end")

    def __init__(self, buf: bytes, pos: int = 0, end: int | None = None) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end

    def at_end(self) -> bool:
        return self.pos == self.end

    def read(self, tag: int) -> tuple[int, int]:
        """Read one TLV with `tag`; return (start, end) of its value."""
        buf, pos, end = self.buf, self.pos, self.end
        if pos + 2 > end:
            raise KeyFormatError("DER: truncated")
        if buf[pos] != tag:
            raise KeyFormatError(f"DER: expected tag {tag:#04x}, found {buf[pos]:#04x}")
        first = buf[pos + 1]
        pos += 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4 or pos + count > end:
                raise KeyFormatError("DER: bad length")
            length = int.from_bytes(buf[pos : pos + count], "big")
            pos += count
            # DER: the shortest form, no leading zero octets
            if length < 0x80 or buf[pos - count] == 0:
                raise KeyFormatError("DER: non-minimal length")
        if pos + length > end:
            raise KeyFormatError("DER: truncated")
        self.pos = pos + length
        return pos, pos + length

    def read_unsigned_integer(self) -> int:
        start, stop = self.read(_INTEGER)
        body = self.buf[start:stop]
        if not body:
            raise KeyFormatError("DER: empty INTEGER")
        if body[0] & 0x80:
            raise KeyFormatError("DER: negative INTEGER")
        if len(body) > 1 and body[0] == 0 and not body[1] & 0x80:
            raise KeyFormatError("DER: non-minimal INTEGER")
        return int.from_bytes(body, "big")

    def read_octet_string(self) -> bytes:
        start, stop = self.read(_OCTET_STRING)
        return self.buf[start:stop]

    def enter_sequence(self) -> _Reader:
        start, stop = self.read(_SEQUENCE)
        return _Reader(self.buf, start, stop)


def decode_signature(der: bytes) -> tuple[int, int]:
    """SM2Signature ::= SEQUENCE { r INTEGER, s INTEGER } → (r, s)."""
    outer = _Reader(bytes(der))
    seq = outer.enter_sequence()
    if not outer.at_end():
        raise KeyFormatError("DER: trailing data after signature")
    r = seq.read_unsigned_integer()
    s = seq.read_unsigned_integer()
    if not seq.at_end():
        raise KeyFormatError("DER: extra fields in signature")
    return r, s


def encode_signature(r: int, s: int) -> bytes:
    return encode_sequence(encode_integer(r), encode_integer(s))


def decode_ciphertext(der: bytes) -> tuple[int, int, bytes, bytes]:
    """SM2Cipher ::= SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING, ciphertext OCTET STRING }
    → (x, y, C3, C2)."""
    outer = _Reader(bytes(der))
    seq = outer.enter_sequence()
    if not outer.at_end():
        raise KeyFormatError("DER: trailing data after ciphertext")
    x = seq.read_unsigned_integer()
    y = seq.read_unsigned_integer()
    c3 = seq.read_octet_string()
    c2 = seq.read_octet_string()
    if not seq.at_end():
        raise KeyFormatError("DER: extra fields in ciphertext")
    return x, y, c3, c2


def encode_ciphertext(x: int, y: int, c3: bytes, c2: bytes) -> bytes:
    return encode_sequence(
        encode_integer(x), encode_integer(y), encode_octet_string(c3), encode_octet_string(c2)
    )
