#!/usr/bin/env python3
"""Draws the app and tray icons (RGBA PNGs) from simple shapes, so that they
can be redrawn without an image editor: python3 src-tauri/icons/make_icons.py"""
import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SS = 4  # supersamples per axis


def png(path, size, pixel):
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            acc = [0.0, 0.0, 0.0, 0.0]
            for sy in range(SS):
                for sx in range(SS):
                    u = (x + (sx + 0.5) / SS) / size
                    v = (y + (sy + 0.5) / SS) / size
                    r, g, b, a = pixel(u, v)
                    acc[0] += r * a
                    acc[1] += g * a
                    acc[2] += b * a
                    acc[3] += a
            n = SS * SS
            alpha = acc[3] / n
            if alpha > 0:
                row += bytes(round(c / acc[3]) for c in acc[:3]) + bytes([round(alpha * 255)])
            else:
                row += bytes(4)
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def circle(u, v, cx, cy, r):
    return (u - cx) ** 2 + (v - cy) ** 2 <= r * r


def segment(u, v, ax, ay, bx, by, width):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((u - ax) * dx + (v - ay) * dy) / (dx * dx + dy * dy)))
    px, py = ax + t * dx, ay + t * dy
    return (u - px) ** 2 + (v - py) ** 2 <= (width / 2) ** 2


def cloud(u, v):
    return (
        circle(u, v, 0.36, 0.56, 0.16)
        or circle(u, v, 0.55, 0.45, 0.21)
        or circle(u, v, 0.72, 0.6, 0.13)
        or (0.36 <= u <= 0.72 and 0.56 <= v <= 0.73)
    )


BLUE = (37, 99, 235)
GREY = (100, 116, 139)
RED = (220, 38, 38)
AMBER = (217, 119, 6)
WHITE = (255, 255, 255)


def badge(colour, glyph):
    def pixel(u, v):
        if not circle(u, v, 0.5, 0.5, 0.48):
            return (0, 0, 0, 0.0)
        if glyph(u, v):
            return WHITE + (1.0,)
        return colour + (1.0,)

    return pixel


def check(u, v):
    return segment(u, v, 0.28, 0.52, 0.44, 0.68, 0.11) or segment(u, v, 0.44, 0.68, 0.73, 0.36, 0.11)


def arrows(u, v):
    # Up arrow on the left, down arrow on the right.
    up = segment(u, v, 0.38, 0.3, 0.38, 0.72, 0.1) or segment(u, v, 0.38, 0.28, 0.26, 0.42, 0.1) or segment(u, v, 0.38, 0.28, 0.5, 0.42, 0.1)
    down = segment(u, v, 0.62, 0.28, 0.62, 0.7, 0.1) or segment(u, v, 0.62, 0.72, 0.5, 0.58, 0.1) or segment(u, v, 0.62, 0.72, 0.74, 0.58, 0.1)
    return up or down


def pause(u, v):
    return (0.33 <= u <= 0.44 or 0.56 <= u <= 0.67) and 0.3 <= v <= 0.7


def cross(u, v):
    return segment(u, v, 0.33, 0.33, 0.67, 0.67, 0.11) or segment(u, v, 0.67, 0.33, 0.33, 0.67, 0.11)


def bang(u, v):
    return segment(u, v, 0.5, 0.27, 0.5, 0.57, 0.12) or circle(u, v, 0.5, 0.71, 0.065)


def rounded_square(u, v, r=0.2, m=0.04):
    lo, hi = m + r, 1 - m - r
    cu, cv = min(max(u, lo), hi), min(max(v, lo), hi)
    return (u - cu) ** 2 + (v - cv) ** 2 <= r * r


def app(u, v):
    if not rounded_square(u, v):
        return (0, 0, 0, 0.0)
    if cloud(u, v):
        return WHITE + (1.0,)
    # A gentle vertical gradient.
    t = v
    return tuple(round(c * (1.05 - 0.2 * t)) for c in BLUE) + (1.0,)


def ico(path, pngs):
    """A Windows icon whose images are PNGs (read since Windows Vista)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = len(header) + 16 * len(pngs)
    entries, images = b"", b""
    for size, data in pngs:
        entries += struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(data), offset + len(images))
        images += data
    with open(path, "wb") as f:
        f.write(header + entries + images)


def icns(path, pngs):
    """A macOS icon: one PNG per size, under the type codes that carry PNGs."""
    kinds = {32: b"icp5", 64: b"icp6", 128: b"ic07", 256: b"ic08", 512: b"ic09"}
    body = b"".join(kinds[size] + struct.pack(">I", 8 + len(data)) + data for size, data in pngs if size in kinds)
    with open(path, "wb") as f:
        f.write(b"icns" + struct.pack(">I", 8 + len(body)) + body)


if __name__ == "__main__":
    # The app icon at the sizes the Linux packages install into the hicolor
    # theme (icon.png, 256, is also the window icon compiled into the app),
    # and the same images as a Windows .ico and a macOS .icns for the
    # installers built elsewhere.
    app_icons = [(32, "32x32.png"), (64, "64x64.png"), (128, "128x128.png"), (256, "icon.png"), (512, "512x512.png")]
    for size, name in app_icons:
        png(os.path.join(HERE, name), size, app)
    pngs = []
    for size, name in app_icons:
        with open(os.path.join(HERE, name), "rb") as f:
            pngs.append((size, f.read()))
    ico(os.path.join(HERE, "icon.ico"), [p for p in pngs if p[0] <= 256])
    icns(os.path.join(HERE, "icon.icns"), pngs)
    tray = {
        "tray-idle.png": badge(BLUE, check),
        "tray-syncing.png": badge(BLUE, arrows),
        "tray-paused.png": badge(GREY, pause),
        "tray-offline.png": badge(GREY, cross),
        "tray-error.png": badge(RED, bang),
        "tray-signed-out.png": badge(AMBER, bang),
    }
    for name, pixel in tray.items():
        png(os.path.join(HERE, name), 64, pixel)
