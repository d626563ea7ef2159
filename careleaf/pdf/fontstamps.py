"""The same PDF from the same leaflet, whichever font subsetter WeasyPrint used: subset fonts without the clock.

Where HarfBuzz's subsetter is missing, WeasyPrint subsets fonts with fontTools, which stamps each subset
font's ``head.modified`` with the time of the build (SOURCE_DATE_EPOCH when set). Two builds of one
leaflet then differ in their embedded fonts alone. This sets each embedded font's ``modified`` back to its
``created`` (which the subsetter copies from the font file) and mends the font's checksums, in the PDF
itself: nothing in the process's environment changes, and nothing of fontTools or WeasyPrint is patched.
HarfBuzz's subsetter keeps the font file's own dates; its PDFs need nothing (careleaf.pdf.engine).
"""

from __future__ import annotations

import struct
import zlib

import pikepdf
from pikepdf import Dictionary, Name

# The font programs that are OpenType or TrueType (an sfnt with a 'head' table): FontFile2 always,
# FontFile3 when its /Subtype is /OpenType.
_SFNT_KEYS = ("/FontFile2", "/FontFile3")
_SFNT_VERSIONS = (b"\x00\x01\x00\x00", b"OTTO", b"true")
_CHECKSUM_MAGIC = 0xB1B0AFBA   # the whole font sums to this (OpenType's checkSumAdjustment)
# Where the fields are inside the 'head' table.
_ADJUSTMENT, _CREATED, _MODIFIED, _HEAD_MIN = 8, 20, 28, 36


def settle_font_timestamps(pdf: pikepdf.Pdf) -> int:
    """Give every embedded OpenType or TrueType font its created date as its modified date; how many changed."""
    changed = 0
    for descriptor in pdf.objects:
        if not isinstance(descriptor, Dictionary) or descriptor.get("/Type") != Name.FontDescriptor:
            continue
        for key in _SFNT_KEYS:
            program = descriptor.get(key)
            if not isinstance(program, pikepdf.Stream):
                continue
            if key == "/FontFile3" and program.get("/Subtype") != Name.OpenType:
                continue
            settled = settled_font(program.read_bytes())
            if settled is not None:
                # Compressed here, by zlib at its default level, so the bytes are the same on every run.
                program.write(zlib.compress(settled), filter=Name.FlateDecode)
                changed += 1
    return changed


def settled_font(font: bytes) -> bytes | None:
    """The font with head.modified set to head.created and its checksums mended; None if that is so already
    (or the data is no font this can read)."""
    head = _head_entry(font)
    if head is None:
        return None
    entry, offset, length = head
    if font[offset + _MODIFIED:offset + _HEAD_MIN] == font[offset + _CREATED:offset + _MODIFIED]:
        return None
    out = bytearray(font)
    out[offset + _MODIFIED:offset + _HEAD_MIN] = font[offset + _CREATED:offset + _MODIFIED]
    # The head table's checksum is taken with its checkSumAdjustment at 0; then the adjustment makes the
    # whole font sum to the magic number.
    struct.pack_into(">I", out, offset + _ADJUSTMENT, 0)
    struct.pack_into(">I", out, entry + 4, _checksum(out[offset:offset + length]))
    struct.pack_into(">I", out, offset + _ADJUSTMENT, (_CHECKSUM_MAGIC - _checksum(out)) & 0xFFFFFFFF)
    return bytes(out)


def _head_entry(font: bytes) -> tuple[int, int, int] | None:
    """Where the 'head' table is: its table directory entry, its offset and its length."""
    if len(font) < 12 or font[:4] not in _SFNT_VERSIONS:
        return None
    (tables,) = struct.unpack_from(">H", font, 4)
    for entry in range(12, min(12 + 16 * tables, len(font) - 15), 16):
        tag, _, offset, length = struct.unpack_from(">4sIII", font, entry)
        if tag == b"head":
            return (entry, offset, length) if length >= _HEAD_MIN and offset + length <= len(font) else None
    return None


def _checksum(data: bytes | bytearray) -> int:
    """The sfnt checksum: the sum of the data as big-endian 32-bit words, zero-padded, modulo 2**32."""
    padded = bytes(data) + b"\0" * (-len(data) % 4)
    return sum(struct.unpack(f">{len(padded) // 4}I", padded)) & 0xFFFFFFFF
