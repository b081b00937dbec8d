"""Public pages: the procedure catalogue, a procedure, the language switch (submission: submission.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for

from app.catalog import search as catalog_search
from app.catalog.services import get_procedure

bp = Blueprint("web", __name__)

#: procedures per page of the catalogue
PER_PAGE = 50
#: the catalogue's query parameters: the words, the field (its name), the agency (its code), the page
SEARCH_PARAMS = ("q", "linh_vuc", "co_quan", "trang")


def _page_number(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or 1), 10_000))
    except ValueError:
        return 1


@bp.get("/")
def home():
    """The catalogue: browse by field and agency, search by words (diacritics and typos ignored), paged."""
    args = {k: (request.args.get(k) or "").strip() for k in SEARCH_PARAMS}
    result = catalog_search.search(args["q"] or None, field=args["linh_vuc"] or None, unit=args["co_quan"] or None,
                                   page=_page_number(args["trang"]), per_page=PER_PAGE)

    def catalogue_url(**changes: Any) -> str:
        """This search with some parameters changed (None or "" drops one); a new search starts at page 1."""
        params = {k: v for k, v in args.items() if k != "trang"}
        params.update(changes)
        return url_for("web.home", **{k: v for k, v in params.items() if v not in (None, "", 1)})

    return render_template("public/home.html", result=result, index=catalog_search.catalog_index(),
                           args=args, catalogue_url=catalogue_url)


@bp.get("/thu-tuc/<code>")
def procedure(code: str):
    proc = get_procedure(code)
    return render_template("public/procedure.html", procedure=proc,
                           field_url=url_for("web.home", linh_vuc=proc.field) if proc.field else None)


def safe_next(target: str | None) -> str | None:
    """A path on this site ("/tra-cuu?ma=…"), or None: no scheme, no host, no "//" or backslash tricks."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.post("/ngon-ngu/<value>")
def set_language(value: str):
    """The language switch of every page (a small form, no JavaScript): back to the same page."""
    if value in ("vi", "en"):
        session["lang"] = value
    return redirect(safe_next(request.form.get("next")) or url_for("web.home"))


from app.web import submission as _submission  # noqa: E402,F401 — its routes join this blueprint
