"""How wide a text is in the diagrams' font, without a browser: a committed table of advance widths.

The diagrams (render/svg.py) size every box to its label, so they need text widths at render time,
with no font library and no browser. The font stack is FONT_FAMILY; the table is DejaVu Sans's
(Book), the widest of its members: Bitstream Vera Sans has the same metrics and Verdana is within
a few per cent of them, while Arial, Helvetica and Liberation Sans are narrower. Widths are in ems
(advance / unitsPerEm, rounded up), so a text at size S px is `width(text, S)` px wide, kerning
ignored (DejaVu's pairs only narrow a text). A character outside the table counts as the widest
in it, so an unknown glyph can only make a box too wide, never too narrow.

The table is generated from the font file, and a test compares it with the installed font when
there is one:

    python -m cnncalc.render.fontwidths /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
"""

from __future__ import annotations

FONT_FAMILY = "'DejaVu Sans', 'Bitstream Vera Sans', Verdana, sans-serif"
FONT_NAME = "DejaVu Sans"
# every printable ASCII character, and the few others the diagrams write
CHARACTERS = "".join(map(chr, range(32, 127))) + "\u00a0\u00b7\u00d7\u2026\u2192\u26a0"

# advance widths in ems of DejaVu Sans 2.37 (generated: see the module's docstring)
WIDTHS = {
    " ": 0.3179, "!": 0.4009, "\"": 0.4600, "#": 0.8379, "$": 0.6363, "%": 0.9502, "&": 0.7798, "'": 0.2750,
    "(": 0.3902, ")": 0.3902, "*": 0.5000, "+": 0.8379, ",": 0.3179, "-": 0.3609, ".": 0.3179, "/": 0.3370,
    "0": 0.6363, "1": 0.6363, "2": 0.6363, "3": 0.6363, "4": 0.6363, "5": 0.6363, "6": 0.6363, "7": 0.6363,
    "8": 0.6363, "9": 0.6363, ":": 0.3370, ";": 0.3370, "<": 0.8379, "=": 0.8379, ">": 0.8379, "?": 0.5308,
    "@": 1.0000, "A": 0.6841, "B": 0.6861, "C": 0.6983, "D": 0.7701, "E": 0.6319, "F": 0.5752, "G": 0.7750,
    "H": 0.7520, "I": 0.2950, "J": 0.2950, "K": 0.6558, "L": 0.5572, "M": 0.8628, "N": 0.7481, "O": 0.7872,
    "P": 0.6031, "Q": 0.7872, "R": 0.6949, "S": 0.6348, "T": 0.6109, "U": 0.7320, "V": 0.6841, "W": 0.9888,
    "X": 0.6851, "Y": 0.6109, "Z": 0.6851, "[": 0.3902, "\\": 0.3370, "]": 0.3902, "^": 0.8379, "_": 0.5000,
    "`": 0.5000, "a": 0.6128, "b": 0.6348, "c": 0.5499, "d": 0.6348, "e": 0.6153, "f": 0.3521, "g": 0.6348,
    "h": 0.6338, "i": 0.2779, "j": 0.2779, "k": 0.5792, "l": 0.2779, "m": 0.9742, "n": 0.6338, "o": 0.6119,
    "p": 0.6348, "q": 0.6348, "r": 0.4112, "s": 0.5210, "t": 0.3921, "u": 0.6338, "v": 0.5918, "w": 0.8179,
    "x": 0.5918, "y": 0.5918, "z": 0.5250, "{": 0.6363, "|": 0.3370, "}": 0.6363, "~": 0.8379, "\u00a0": 0.3179,
    "\u00b7": 0.3179, "\u00d7": 0.8379, "\u2026": 1.0000, "\u2192": 0.8379, "\u26a0": 0.8965,
}
WIDEST = max(WIDTHS.values())


def width(text: str, size: float) -> float:
    """The advance width of `text` at `size` px, in px: what a browser lays it out in, or more."""
    return size * sum(WIDTHS.get(ch, WIDEST) for ch in text)


def read_widths(path: str, characters: str = CHARACTERS) -> dict[str, float]:
    """The advance widths (ems, rounded up to 4 decimals) of `characters` in a TrueType font file:
    its 'cmap' (format 4: the Basic Multilingual Plane) maps each to a glyph, 'hmtx' holds the glyph's
    advance, 'head' the units per em. Only for regenerating WIDTHS."""
    import math
    import struct

    data = open(path, "rb").read()
    count = struct.unpack(">H", data[4:6])[0]
    tables = {}
    for i in range(count):
        tag, _, offset, _ = struct.unpack(">4sIII", data[12 + 16 * i:28 + 16 * i])
        tables[tag.decode("latin-1")] = offset
    units = struct.unpack(">H", data[tables["head"] + 18:tables["head"] + 20])[0]
    metrics = struct.unpack(">H", data[tables["hhea"] + 34:tables["hhea"] + 36])[0]
    advances = [struct.unpack(">H", data[tables["hmtx"] + 4 * i:tables["hmtx"] + 4 * i + 2])[0]
                for i in range(metrics)]
    glyphs = _cmap4(data, tables["cmap"])
    return {ch: math.ceil(advances[min(glyphs.get(ord(ch), 0), metrics - 1)] / units * 10_000) / 10_000
            for ch in characters}


def _cmap4(data: bytes, cmap: int) -> dict[int, int]:
    """Code point -> glyph index from the font's Unicode BMP subtable (platform 3, encoding 1, format 4)."""
    import struct

    subtables = struct.unpack(">H", data[cmap + 2:cmap + 4])[0]
    for i in range(subtables):
        platform, encoding, offset = struct.unpack(">HHI", data[cmap + 4 + 8 * i:cmap + 12 + 8 * i])
        start = cmap + offset
        if (platform, encoding) == (3, 1) and struct.unpack(">H", data[start:start + 2])[0] == 4:
            break
    else:
        raise ValueError("the font has no Unicode BMP (3, 1, format 4) cmap")
    segments = struct.unpack(">H", data[start + 6:start + 8])[0] // 2
    ends = start + 14
    starts = ends + 2 * segments + 2
    deltas = starts + 2 * segments
    ranges = deltas + 2 * segments

    def array(at: int, signed: bool = False) -> list[int]:
        return list(struct.unpack(f">{segments}{'h' if signed else 'H'}", data[at:at + 2 * segments]))

    glyphs = {}
    for k, (end, first, delta, shift) in enumerate(zip(array(ends), array(starts), array(deltas, True),
                                                       array(ranges))):
        for code in range(first, end + 1):
            if shift == 0:
                glyph = (code + delta) & 0xFFFF
            else:
                at = ranges + 2 * k + shift + 2 * (code - first)
                glyph = struct.unpack(">H", data[at:at + 2])[0]
                glyph = (glyph + delta) & 0xFFFF if glyph else 0
            glyphs[code] = glyph
    return glyphs


def _quote(ch: str) -> str:
    """A character as a double-quoted Python literal, non-ASCII as an escape."""
    return '"' + ("\\" + ch if ch in '"\\' else ch if " " <= ch <= "~" else f"\\u{ord(ch):04x}") + '"'


if __name__ == "__main__":  # print the WIDTHS table of a font file
    import sys

    table = read_widths(sys.argv[1])
    items = [f"{_quote(ch)}: {w:.4f}," for ch, w in table.items()]
    print("WIDTHS = {\n" + "\n".join("    " + " ".join(items[i:i + 8]) for i in range(0, len(items), 8)) + "\n}")
