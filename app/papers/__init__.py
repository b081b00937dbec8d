"""The one-stop shop's standard papers (Decision 2018 numbering), drawn as PDF from a dossier's data.

``render(kind, dossier, **extra) -> bytes`` with ``kind``:

- ``"01"`` receipt and appointment slip; ``secret=`` (only right after submission: it is not stored in
  clear) puts it in the QR link, else the QR opens the tracking page with the code filled in;
  ``official=`` the receiving official's name (else the one who completed the reception step);
- ``"02"`` supplement request: ``items=`` or the dossier data ``supplement_items`` or the latest
  reception task's ``supplement_items``; ``reason=`` optional;
- ``"03"`` refusal: ``reasons=`` or the dossier data ``refusal_reason`` (else ``reception_note``);
- ``"04"`` apology and new date: from the stored apology (``apology=``, else the dossier's latest
  ``DossierApology``, see ``app.dossiers.late``), or ``new_date=`` and ``reason=`` given explicitly;
- ``"05"`` process-control sheet: each hand-over from the dossier's steps;
- ``"06"`` dossier log (sổ theo dõi hồ sơ, A4 landscape): the Form 06 row of the dossier and its audit trail;
- ``"07"`` notice that processing is stopped (the 2025 set's addition, numbered 07 here), for status 8 or a
  withdrawal (7): ``reasons=`` or the latest decision's ``stop_reason`` / ``withdrawal_reason``.

A5 (06: A4 landscape), Decree 30/2020 margins, Liberation Serif embedded (:class:`FontMissing` when it is not
installed), times in Asia/Ho_Chi_Minh as dd/mm/yyyy HH:MM, money as ``200.000 đ`` with the amount in words.
"""

from __future__ import annotations

from app.papers.documents import KINDS, PaperError, file_name, render, title_of
from app.papers.layout import FontMissing, make_qr
from app.papers.words import amount_in_words, number_words

__all__ = ["KINDS", "FontMissing", "PaperError", "amount_in_words", "file_name", "make_qr", "number_words",
           "render", "title_of"]
