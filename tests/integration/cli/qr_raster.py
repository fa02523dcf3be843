#!/usr/bin/env python3
"""Rasterises otpgate's QR renderings to a PGM image for zbarimg:
  qr_raster.py svg FILE.svg OUT.pgm
      otpgate's SVG (one path of "Mx yh1v1h-1z" unit squares on white)
  qr_raster.py terminal FILE.txt light|dark OUT.pgm
      the terminal output as a terminal would show it: half blocks in the
      foreground colour on the background colour, ANSI 30/47 (black on
      white) honoured, else the theme's colours (dark text on a light
      background, light text on a dark one)."""
import re
import sys

SCALE = 6


def write_pgm(path, rows):
    height, width = len(rows) * SCALE, len(rows[0]) * SCALE
    with open(path, "wb") as out:
        out.write(b"P5 %d %d 255\n" % (width, height))
        for row in rows:
            line = bytes(v for v in row for _ in range(SCALE))
            for _ in range(SCALE):
                out.write(line)


def svg(path, out):
    text = open(path).read()
    size = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', text).group(1))
    rows = [[255] * size for _ in range(size)]
    for x, y in re.findall(r"M(\d+) (\d+)h1v1h-1z", text):
        rows[int(y)][int(x)] = 0
    write_pgm(out, rows)


def terminal(path, theme, out):
    theme_fg, theme_bg = (0, 255) if theme == "light" else (255, 0)
    rows = []
    for line in open(path, encoding="utf-8").read().splitlines():
        if not line or set(re.sub(r"\x1b\[[0-9;]*m", "", line)) - set("\u2588\u2580\u2584 "):
            continue  # not a line of the code (the command's other output)
        fg, bg = theme_fg, theme_bg
        top, bottom = [], []
        for token in re.findall(r"\x1b\[[0-9;]*m|.", line):
            if token.startswith("\x1b["):
                codes = token[2:-1].split(";")
                if "0" in codes or codes == [""]:
                    fg, bg = theme_fg, theme_bg
                if "30" in codes:
                    fg = 0
                if "47" in codes:
                    bg = 255
                continue
            up, down = {"\u2588": (fg, fg), "\u2580": (fg, bg), "\u2584": (bg, fg), " ": (bg, bg)}[token]
            top.append(up)
            bottom.append(down)
        if top:
            rows += [top, bottom]
    # The terminal's own background around the code.
    margin = [[theme_bg] * (len(rows[0]) + 8) for _ in range(4)]
    rows = margin + [[theme_bg] * 4 + r + [theme_bg] * 4 for r in rows] + margin
    write_pgm(out, rows)


if __name__ == "__main__":
    if sys.argv[1] == "svg":
        svg(sys.argv[2], sys.argv[3])
    else:
        terminal(sys.argv[2], sys.argv[3], sys.argv[4])
