"""The page of a one-stop paper: A5 (A4 landscape for a wide table), Decree 30/2020 margins,
Liberation Serif (Times New Roman metrics).

fpdf2 draws; segno makes the QR code. :func:`make_qr` is the one place the QR payload goes through
(tests replace it to read the payload back).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import segno
from fpdf import FPDF
from fpdf.enums import XPos, YPos

#: Decree 30/2020: top/bottom 20–25 mm, left 30–35 mm, right 15–20 mm
MARGIN_TOP, MARGIN_BOTTOM, MARGIN_LEFT, MARGIN_RIGHT = 20, 20, 30, 15
#: ISO 216 A5 in mm (given as numbers: fpdf2 2.8 warns on the name "A5")
A5_MM = (148, 210)
A4_MM = (210, 297)
FAMILY = "LiberationSerif"
FONT_FILES = {"": "LiberationSerif-Regular.ttf", "B": "LiberationSerif-Bold.ttf",
              "I": "LiberationSerif-Italic.ttf", "BI": "LiberationSerif-BoldItalic.ttf"}
#: where Debian's fonts-liberation2 (and the older fonts-liberation) put Liberation Serif
FONT_DIRS = ("/usr/share/fonts/truetype/liberation2", "/usr/share/fonts/truetype/liberation")
#: body line height (mm) for 10 pt text
LINE = 4.6
MOTTO = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")


class FontMissing(RuntimeError):
    """Liberation Serif is not installed: papers cannot be drawn with Vietnamese glyphs."""


def font_dir(configured: str | None = None) -> Path:
    """The first directory holding every Liberation Serif face (PAPERS_FONT_DIR or env first)."""
    candidates = [c for c in (configured, os.environ.get("PAPERS_FONT_DIR")) if c] + list(FONT_DIRS)
    for candidate in candidates:
        path = Path(candidate)
        if all((path / name).is_file() for name in FONT_FILES.values()):
            return path
    raise FontMissing(
        "Không tìm thấy phông chữ Liberation Serif (LiberationSerif-Regular.ttf…) trong "
        + ", ".join(candidates)
        + ". Cài gói Debian fonts-liberation2 (make install) hoặc đặt PAPERS_FONT_DIR. "
        "(Liberation Serif is missing: apt-get install fonts-liberation2.)")


def make_qr(payload: str) -> bytes:
    """A PNG QR code of the payload (error correction M, quiet zone included)."""
    out = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(out, kind="png", scale=8, border=2)
    return out.getvalue()


class Paper(FPDF):
    def __init__(self, fonts: Path, title: str, page_format: tuple[float, float] = A5_MM,
                 orientation: str = "P") -> None:
        super().__init__(orientation=orientation, unit="mm", format=page_format)
        self.set_margins(MARGIN_LEFT, MARGIN_TOP, MARGIN_RIGHT)
        self.set_auto_page_break(True, MARGIN_BOTTOM)
        for style, name in FONT_FILES.items():
            self.add_font(FAMILY, style, str(fonts / name))
        self.set_title(title)
        self.set_creator("MotCua")
        self.set_lang("vi")
        self.add_page()
        self.set_font(FAMILY, "", 11)

    def close_fonts(self) -> None:
        """fontTools reads the font files lazily and keeps them open: close them once the PDF is out."""
        for font in self.fonts.values():
            ttfont = getattr(font, "ttfont", None)
            if ttfont is not None:
                ttfont.close()

    # ----------------------------------------------------------------- helpers

    @property
    def width(self) -> float:
        return self.w - self.l_margin - self.r_margin

    def fit(self, text: str, width: float, style: str, size: float, smallest: float = 6.5) -> float:
        """The largest font size ≤ size at which text fits on one line of this width."""
        while size > smallest:
            self.set_font(FAMILY, style, size)
            if self.get_string_width(text) <= width - 2 * self.c_margin - 0.5:
                break
            size -= 0.5
        self.set_font(FAMILY, style, size)
        return size

    def header_block(self, agency: str, unit: str, number: str = "") -> None:
        """Unit (left) and national motto (right), as Decree 30/2020 lays them out."""
        left_w = self.width * 0.4
        right_w = self.width - left_w
        top = self.get_y()
        x = self.l_margin
        # left: the agency above, the unit in bold, a short rule, the paper's number
        self.set_xy(x, top)
        if agency and agency != unit:
            self.set_font(FAMILY, "", 8)
            self.multi_cell(left_w, 3.6, agency.upper(), align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.set_font(FAMILY, "B", 8)
        self.multi_cell(left_w, 3.6, unit.upper(), align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        y = self.get_y() + 0.6
        self.line(x + left_w / 2 - 8, y, x + left_w / 2 + 8, y)
        if number:
            self.set_xy(x, y + 1)
            self.set_font(FAMILY, "", 8)
            self.multi_cell(left_w, 3.6, number, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        left_bottom = self.get_y()
        # right: the motto
        self.set_xy(x + left_w, top)
        self.fit(MOTTO[0], right_w, "B", 8.5)
        self.cell(right_w, 3.8, MOTTO[0], align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.set_x(x + left_w)
        self.fit(MOTTO[1], right_w, "B", 9.5)
        self.cell(right_w, 4.2, MOTTO[1], align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        motto_w = self.get_string_width(MOTTO[1])
        y = self.get_y() + 0.4
        middle = x + left_w + right_w / 2
        self.line(middle - motto_w / 2, y, middle + motto_w / 2, y)
        self.set_xy(self.l_margin, max(left_bottom, y) + 3)

    def place_date(self, text: str) -> None:
        self.set_font(FAMILY, "I", 10)
        self.cell(self.width, 5, text, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def heading(self, text: str, subtitle: str = "") -> None:
        self.fit(text, self.width, "B", 12.5, 9)
        self.multi_cell(self.width, 5.6, text, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if subtitle:
            self.set_font(FAMILY, "I", 10)
            self.multi_cell(self.width, 5, subtitle, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2.5)

    def para(self, text: str, *, style: str = "", size: float = 10, indent: bool = False,
             align: str = "L") -> None:
        self.set_font(FAMILY, style, size)
        prefix = "      " if indent else ""
        self.multi_cell(self.width, LINE, prefix + text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def field(self, label: str, value: str, size: float = 10) -> None:
        """'Label: value' with the label plain and the value bold, wrapping under the text block."""
        self.set_font(FAMILY, "", size)
        self.multi_cell(self.width, LINE, f"{label}: **{_escape(value or '…')}**", markdown=True,
                        new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def numbered(self, items: Sequence[str], size: float = 10) -> None:
        self.set_font(FAMILY, "", size)
        for number, item in enumerate(items, 1):
            self.set_x(self.l_margin + 3)
            self.multi_cell(self.width - 3, LINE, f"{number}. {item}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def grid(self, headings: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float],
             size: float = 9, aligns: Sequence[str] | None = None) -> None:
        self.set_font(FAMILY, "", size)
        with self.table(col_widths=tuple(widths), width=self.width, align="LEFT", line_height=size * 0.45,
                        text_align=tuple(aligns or ["LEFT"] * len(widths)), first_row_as_headings=True,
                        headings_style=_heading_style()) as table:
            head = table.row()
            for text in headings:
                head.cell(text, align="CENTER")
            for values in rows:
                row = table.row()
                for value in values:
                    row.cell(value)
        self.ln(2)

    def signatures(self, blocks: Sequence[tuple[str, str, str]]) -> None:
        """Side-by-side signature blocks: (title, hint, name)."""
        self.ln(1)
        if self.get_y() > self.h - self.b_margin - 28:
            self.add_page()
        top = self.get_y()
        width = self.width / len(blocks)
        bottom = top
        for index, (title, hint, name) in enumerate(blocks):
            x = self.l_margin + index * width
            self.set_xy(x, top)
            self.fit(title, width, "B", 10)
            self.multi_cell(width, 4.6, title, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
            self.set_font(FAMILY, "I", 9)
            self.multi_cell(width, 4.2, hint, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
            self.set_y(self.get_y() + 14)
            self.set_x(x)
            self.set_font(FAMILY, "B", 10)
            self.multi_cell(width, 4.6, name or "", align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
            bottom = max(bottom, self.get_y())
        self.set_xy(self.l_margin, bottom + 2)

    def qr(self, payload: str, caption: str, size: float = 22) -> None:
        """The QR code at the right of the text block, with a caption on its left."""
        if self.get_y() + size > self.h - self.b_margin:
            self.add_page()
        top = self.get_y()
        png = make_qr(payload)
        self.image(io.BytesIO(png), x=self.l_margin + self.width - size, y=top, w=size, h=size)
        self.set_xy(self.l_margin, top + 2)
        self.set_font(FAMILY, "I", 8.5)
        self.multi_cell(self.width - size - 3, 3.8, caption, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_y(max(self.get_y(), top + size) + 1)


def _heading_style():
    from fpdf.fonts import FontFace

    return FontFace(emphasis="BOLD")


def _escape(text: str) -> str:
    """Keep user text from toggling fpdf2's markdown (** and __ and --)."""
    return text.replace("**", "* *").replace("__", "_ _").replace("--", "- -")
