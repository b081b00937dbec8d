"""Numbers in Vietnamese words, for amounts of money on receipts ("Hai trăm nghìn đồng")."""

from __future__ import annotations

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
GROUPS = ("", "nghìn", "triệu")
BILLION = 1_000_000_000


def _three(n: int, full: bool) -> list[str]:
    """Words for 0 < n < 1000; ``full`` when a higher group precedes it ("không trăm lẻ năm")."""
    hundreds, tens, units = n // 100, n // 10 % 10, n % 10
    out: list[str] = []
    if hundreds or full:
        out += [DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units:
            if out:
                out.append("lẻ")
            out.append(DIGITS[units])
    elif tens == 1:
        out.append("mười")
        if units:
            out.append("lăm" if units == 5 else DIGITS[units])
    else:
        out += [DIGITS[tens], "mươi"]
        if units == 1:
            out.append("mốt")
        elif units == 5:
            out.append("lăm")
        elif units:
            out.append(DIGITS[units])
    return out


def _below_billion(n: int, full: bool) -> list[str]:
    groups = [n // 1_000_000, n // 1000 % 1000, n % 1000]
    out: list[str] = []
    for index, group in enumerate(groups):
        if group:
            out += _three(group, full or bool(out))
            name = GROUPS[2 - index]
            if name:
                out.append(name)
    return out


def _words(n: int, full: bool = False) -> list[str]:
    if n >= BILLION:
        head, rest = divmod(n, BILLION)
        out = _words(head, full) + ["tỷ"]
        return out + (_below_billion(rest, True) if rest else [])
    return _below_billion(n, full)


def number_words(n: int) -> str:
    """1250500 → 'một triệu hai trăm năm mươi nghìn năm trăm' (lower case; 0 → 'không')."""
    n = int(n)
    if n < 0:
        return "âm " + number_words(-n)
    if n == 0:
        return DIGITS[0]
    return " ".join(_words(n))


def amount_in_words(amount: int) -> str:
    """200000 → 'Hai trăm nghìn đồng' (whole đồng, capitalised, as receipts write it)."""
    text = f"{number_words(int(amount))} đồng"
    return text[0].upper() + text[1:]
