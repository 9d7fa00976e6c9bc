"""Make the application icon: a handwritten 7 on a dark rounded square, as SVG and 256×256 PNG.

Both files are drawn from the same stroke below, so they match:

    python scripts/make_icon.py    # writes mnist_desktop/resources/icons/mnist-desktop.{svg,png}
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "mnist_desktop" / "resources" / "icons"
SIZE = 256
BACKGROUND = "#1f2633"
INK = "#f4f1ea"
STROKE = 24
MARGIN, RADIUS = 8, 52
# The 7: a top bar that rises a little, then a down stroke that bows, like a pen would draw it.
# Cubic Bézier segments (start, control 1, control 2, end), in the 256×256 frame.
SEGMENTS = [
    ((70, 88), (102, 76), (150, 70), (186, 76)),
    ((186, 76), (160, 114), (132, 154), (116, 200)),
]


def svg() -> str:
    (x0, y0), *_ = SEGMENTS[0]
    path = f"M{x0} {y0}" + "".join(f" C{a[0]} {a[1]} {b[0]} {b[1]} {c[0]} {c[1]}" for _, a, b, c in SEGMENTS)
    side = SIZE - 2 * MARGIN
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" viewBox="0 0 {SIZE} {SIZE}">\n'
        f"  <title>mnist-desktop</title>\n"
        f'  <rect x="{MARGIN}" y="{MARGIN}" width="{side}" height="{side}" rx="{RADIUS}" fill="{BACKGROUND}"/>\n'
        f'  <path d="{path}" fill="none" stroke="{INK}" stroke-width="{STROKE}" stroke-linecap="round" stroke-linejoin="round"/>\n'
        f"</svg>\n"
    )


def bezier(p0, p1, p2, p3, n: int = 64) -> list[tuple[float, float]]:
    points = []
    for i in range(n + 1):
        t = i / n
        u = 1 - t
        points.append(tuple(u**3 * a + 3 * u * u * t * b + 3 * u * t * t * c + t**3 * d for a, b, c, d in zip(p0, p1, p2, p3)))
    return points


def png(scale: int = 4) -> Image.Image:
    """Drawn at ``scale`` × the size and reduced, for smooth edges."""
    big = Image.new("RGBA", (SIZE * scale, SIZE * scale), (0, 0, 0, 0))
    draw = ImageDraw.Draw(big)
    m = MARGIN * scale
    draw.rounded_rectangle((m, m, SIZE * scale - m - 1, SIZE * scale - m - 1), RADIUS * scale, fill=BACKGROUND)
    points = [(x * scale, y * scale) for seg in SEGMENTS for x, y in bezier(*seg)]
    width = STROKE * scale
    draw.line(points, fill=INK, width=width, joint="curve")
    r = width / 2
    for x, y in points:  # round caps and a round corner: a disc at every sample point
        draw.ellipse((x - r, y - r, x + r, y + r), fill=INK)
    return big.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "mnist-desktop.svg").write_text(svg(), encoding="utf-8")
    png().save(OUT / "mnist-desktop.png", optimize=True)
    print(f"wrote {OUT / 'mnist-desktop.svg'} and {OUT / 'mnist-desktop.png'}")


if __name__ == "__main__":
    main()
