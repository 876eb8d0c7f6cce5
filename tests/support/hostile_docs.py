"""Hostile uploads built in memory: a .docx whose ZIP headers lie, a slow PDF.

Used by the document tests, the e2e test and ``make bench`` (issue 17,
items 1 and 2). Neither file is stored in the repository: both are a few
hundred KB to a few MB, built in well under a second.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import docx

MIB = 1024 * 1024


def _deflate_zeros(mib: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``mib`` MiB of zeros, and the CRC-32 of those zeros.

    One full-flushed block of 1 MiB is repeated: a full flush resets the
    window, so the copies are independent and their concatenation (closed
    by an empty final block) is a valid stream.
    """
    zeros = bytes(MIB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    return block * mib + final, crc


def lying_docx(inflated_mib: int = 1024, declared_bytes: int = 4096) -> bytes:
    """A .docx whose word/document.xml declares ``declared_bytes`` but inflates to
    ``inflated_mib`` MiB (of zeros, after a valid start of the XML).

    Both the local header and the central directory carry the small size,
    so a check of the declared sizes passes; the CRC is that of the whole
    inflated member, as a careless inflater would verify it.
    """
    template = io.BytesIO()
    docx.Document().save(template)
    with zipfile.ZipFile(io.BytesIO(template.getvalue())) as source:
        members = [(info.filename, source.read(info)) for info in source.infolist()]
    out = io.BytesIO()
    central = []
    for name, content in members:
        if name == "word/document.xml":
            payload, crc = _deflate_zeros(inflated_mib)
            method, size = zipfile.ZIP_DEFLATED, declared_bytes
        else:
            compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
            payload = compressor.compress(content) + compressor.flush()
            crc, method, size = zlib.crc32(content), zipfile.ZIP_DEFLATED, len(content)
        encoded = name.encode()
        offset = out.tell()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21,
                              crc, len(payload), size, len(encoded), 0))
        out.write(encoded)
        out.write(payload)
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21,
                                   crc, len(payload), size, len(encoded), 0, 0, 0, 0, 0,
                                   offset) + encoded)
    directory_offset = out.tell()
    directory = b"".join(central)
    out.write(directory)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central),
                          len(directory), directory_offset, 0))
    return out.getvalue()


def slow_pdf(pages: int = 4, operators_per_page: int = 200_000) -> bytes:
    """A PDF of ``pages`` pages whose content streams hold many text operators.

    Each stream is Flate-compressed (a few KB on disk) and stays far below
    pypdf's own decompression limit, yet extracting a page's text costs
    pypdf seconds: the time goes into one page, between budget checks.
    """
    op = b"BT /F1 12 Tf 72 720 Td (Lorem ipsum dolor sit amet) Tj ET\n"
    content = zlib.compress(op * operators_per_page, 9)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(f"{4 + 2 * i} 0 R".encode()
                                              for i in range(pages))
        + f"] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i in range(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {5 + 2 * i} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>".encode())
        objects.append(f"<< /Length {len(content)} /Filter /FlateDecode >>\nstream\n".encode()
                       + content + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
              .encode())
    return out.getvalue()
