"""The course's CJK font, so that figures with Chinese text (the Tang poems of 03 and 10) show characters, not
tofu boxes: matplotlib's DejaVu Sans has no CJK glyphs.

fonts/NotoSansCJKsc-course.ttf is a subset of Noto Sans CJK SC (SIL Open Font License 1.1, fonts/OFL.txt) to the
characters of data/tang_poems.txt, the Chinese messages (locale/zh.json), the Chinese notebooks' translations and
ASCII; use_course_style() registers it (register()) as the sans-serif fallback after DejaVu Sans, so Latin text
looks as before and a CJK character outside the subset falls back to a warning and a box, never an error.

It is made, for authors only (fontTools is not a dependency of the course), by
    python -m lmutils.course make-font [SOURCE.ttc]    (default: Debian's fonts-noto-cjk, NotoSansCJK-Regular.ttc)
"""

from pathlib import Path

FONTS = Path(__file__).resolve().parent / "fonts"
FONT = FONTS / "NotoSansCJKsc-course.ttf"
FAMILY = "Noto Sans CJK SC (course subset)"
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")  # Debian: apt-get install fonts-noto-cjk
CJK_PUNCTUATION = "，。、；：？！“”‘’（）《》【】「」『』—…·～　"


def register() -> str:
    """Add the shipped CJK font to matplotlib's font manager (once) and return its family name."""
    from matplotlib import font_manager

    if FONT.exists() and not any(f.fname == str(FONT) for f in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(str(FONT))
    return font_manager.FontProperties(fname=str(FONT)).get_name() if FONT.exists() else FAMILY


def characters(repo: Path) -> str:
    """Every character the font must have: the Tang corpus, the Chinese messages and translations, ASCII."""
    texts = [(repo / "data" / "tang_poems.txt").read_text(encoding="utf-8"), CJK_PUNCTUATION,
             "".join(chr(c) for c in range(0x20, 0x7F))]
    texts += [p.read_text(encoding="utf-8") for p in sorted((Path(__file__).parent / "locale").glob("*.json"))]
    translations = repo / "notebooks" / "zh" / "translations"
    texts += [p.read_text(encoding="utf-8") for p in sorted(translations.glob("*.json"))]
    return "".join(sorted({ch for text in texts for ch in text if ch.isprintable() or ch == "\u3000"}))


def make_font(source: Path = SOURCE, out: Path = FONT, repo: Path | None = None) -> tuple[int, int]:
    """Subset Noto Sans CJK SC (the SC face of the collection `source`) to characters(repo), with TrueType
    outlines (matplotlib embeds those in PDF and PS as well as PNG), into `out`. Returns (glyphs, bytes)."""
    from fontTools import subset
    from fontTools.ttLib import TTCollection, TTFont

    from ..files import REPO

    if not source.exists():
        raise ValueError(f"no font at {source}: install Debian's fonts-noto-cjk "
                         "or give the path of a Noto Sans CJK .ttc/.otf")
    if source.suffix.lower() == ".ttc":
        fonts = TTCollection(str(source)).fonts
        font = next((f for f in fonts if f["name"].getDebugName(4) == "Noto Sans CJK SC"), None)
        if font is None:
            raise ValueError(f"{source} has no 'Noto Sans CJK SC' face")
    else:
        font = TTFont(str(source))
    options = subset.Options()
    options.layout_features, options.hinting, options.notdef_outline = [], False, True
    options.name_IDs, options.name_languages = ["*"], ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=characters(repo or REPO))
    subsetter.subset(font)
    if "CFF " in font:
        cff_to_glyf(font)
    for record in font["name"].names:  # the subset's own family name, so it never shadows an installed Noto
        if record.nameID in (1, 4, 16):
            record.string = FAMILY
        elif record.nameID in (3, 6):
            record.string = "NotoSansCJKsc-course"
    out.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(out))
    return len(font.getGlyphOrder()), out.stat().st_size


def cff_to_glyf(font, max_err: float = 1.0) -> None:
    """Replace a font's cubic CFF outlines by quadratic TrueType ones (fontTools' otf2ttf recipe)."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order, glyphs = font.getGlyphOrder(), {}
    glyph_set = font.getGlyphSet()
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, max_err, reverse_direction=True))
        glyphs[name] = pen.glyph()
    font["loca"], font["glyf"] = newTable("loca"), newTable("glyf")
    font["glyf"].glyphOrder, font["glyf"].glyphs = order, glyphs
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    font["maxp"] = maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for field in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                  "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, field, 0)
    maxp.maxZones, maxp.numGlyphs = 1, len(order)
    font["head"].indexToLocFormat = 0
    font["head"].glyphDataFormat = 0
    font["post"].formatType = 2.0
    font["post"].extraNames, font["post"].mapping = [], {}
    font["post"].glyphOrder = order
    font.sfntVersion = "\x00\x01\x00\x00"
    font.recalcBBoxes, font.recalcTimestamp = True, False  # the same bytes from the same source
