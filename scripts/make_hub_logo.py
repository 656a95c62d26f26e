#!/usr/bin/env python3
"""Draw the loader's Meltano Hub logo, a small original PNG, with nothing but zlib and struct.

    python scripts/make_hub_logo.py          # write the logo when it is missing or differs
    python scripts/make_hub_logo.py --check  # exit 1 when it is missing or differs

The Hub serves a listing's `logo_url` (`/assets/logos/loaders/attentive.png`) from its
`static/` folder, so the file sits at `hub/static/assets/logos/loaders/attentive.png`. The
picture, a white message bubble with three amber dots on a dark disc (a message on its way),
is drawn here rather than taken from anywhere: it is ours to submit. `--check` compares
pixels, not bytes, since another zlib may compress the same pixels differently.
"""

from __future__ import annotations

import argparse
import math
import struct
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOGO = ROOT / "hub" / "static" / "assets" / "logos" / "loaders" / "attentive.png"
SIZE = 128
SAMPLES = 4  # per axis: 16 samples a pixel smooth the edges

Colour = tuple[int, int, int]
DISC: Colour = (0x1F, 0x1D, 0x36)
BUBBLE: Colour = (0xFF, 0xFF, 0xFF)
DOT: Colour = (0xF5, 0xA6, 0x23)
TAIL = ((42.0, 78.0), (36.0, 100.0), (62.0, 82.0))
DOTS = ((44.0, 56.0), (64.0, 56.0), (84.0, 56.0))


def _in_rounded_rect(x: float, y: float) -> bool:
    """The bubble's body: a rectangle with rounded corners."""
    cx, cy, half_w, half_h, radius = 64.0, 56.0, 40.0, 27.0, 14.0
    dx = max(abs(x - cx) - (half_w - radius), 0.0)
    dy = max(abs(y - cy) - (half_h - radius), 0.0)
    return dx * dx + dy * dy <= radius * radius


def _in_triangle(x: float, y: float) -> bool:
    """The bubble's tail."""
    (x1, y1), (x2, y2), (x3, y3) = TAIL

    def side(ax: float, ay: float, bx: float, by: float) -> float:
        return (x - bx) * (ay - by) - (ax - bx) * (y - by)

    d1, d2, d3 = side(x1, y1, x2, y2), side(x2, y2, x3, y3), side(x3, y3, x1, y1)
    return not ((d1 < 0 or d2 < 0 or d3 < 0) and (d1 > 0 or d2 > 0 or d3 > 0))


def colour_at(x: float, y: float) -> Colour | None:
    """The colour of the topmost shape at a point, None outside the disc."""
    if math.hypot(x - 64.0, y - 64.0) > 62.0:
        return None
    if any(math.hypot(x - dx, y - dy) <= 8.0 for dx, dy in DOTS):
        return DOT
    if _in_rounded_rect(x, y) or _in_triangle(x, y):
        return BUBBLE
    return DISC


def pixels() -> bytes:
    """RGBA rows, each sample of a pixel weighted alike (alpha from the covered share)."""
    rows = bytearray()
    step = 1.0 / SAMPLES
    for py in range(SIZE):
        for px in range(SIZE):
            red = green = blue = covered = 0
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    colour = colour_at(px + (sx + 0.5) * step, py + (sy + 0.5) * step)
                    if colour is not None:
                        red, green, blue = red + colour[0], green + colour[1], blue + colour[2]
                        covered += 1
            if covered:
                rows += bytes(
                    (
                        round(red / covered),
                        round(green / covered),
                        round(blue / covered),
                        round(255 * covered / SAMPLES**2),
                    )
                )
            else:
                rows += b"\0\0\0\0"
    return bytes(rows)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(rgba: bytes) -> bytes:
    """An 8-bit RGBA PNG of the SIZE x SIZE pixels, every row with filter 0."""
    stride = SIZE * 4
    raw = b"".join(b"\0" + rgba[row * stride : (row + 1) * stride] for row in range(SIZE))
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def read_png(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, RGBA) of a PNG this script wrote: 8-bit RGBA, filter 0 on every row."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
            if (depth, colour_type) != (8, 6):
                raise ValueError("not an 8-bit RGBA PNG")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * 4 + 1
    if any(raw[row * stride] != 0 for row in range(height)):
        raise ValueError("a row uses a PNG filter this reader does not undo")
    rgba = b"".join(raw[row * stride + 1 : (row + 1) * stride] for row in range(height))
    return width, height, rgba


def is_current(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        return read_png(path.read_bytes()) == (SIZE, SIZE, pixels())
    except (ValueError, zlib.error, struct.error):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the logo differs")
    parser.add_argument("--logo", type=Path, default=LOGO, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if is_current(args.logo):
        return 0
    if args.check:
        print(f"{args.logo} is stale: run python scripts/make_hub_logo.py", file=sys.stderr)
        return 1
    args.logo.parent.mkdir(parents=True, exist_ok=True)
    args.logo.write_bytes(png(pixels()))
    print(f"wrote {args.logo}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
