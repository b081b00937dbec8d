"""Vietnamese by default, English switchable: Flask-Babel with the Vietnamese text as the message id.

The English catalog is `app/translations/en/LC_MESSAGES/messages.po` (the only source; no `.mo` in the tree).
At app start it is compiled with Babel (`read_po` → `write_mo`) into `instance/translations/` when the `.mo` is
missing or not from the current `.po`, so a fresh clone works with `make run` and `make test` and no build step.
Vietnamese has no catalog: gettext returns the message id, byte for byte.

In templates: `{{ _('Tra cứu hồ sơ') }}`, `{% trans code=dossier.code %}Hồ sơ {{ code }}{% endtrans %}`, and
`value|tr` for a text held in a variable; in Python: `flask_babel.gettext("… %(code)s", code=…)` at request time,
`N_("…")` to mark a constant shown later through `tr()`. Data (procedure names, JSON Schema forms of procedures,
catalogue records) is never translated. After changing texts:

    .venv/bin/pybabel extract -F app/translations/babel.cfg -k N_ -k _ --no-wrap -o /tmp/messages.pot .
    .venv/bin/pybabel update -i /tmp/messages.pot -d app/translations --no-wrap --ignore-obsolete
    # then translate every new or fuzzy entry of app/translations/en/LC_MESSAGES/messages.po
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import Babel

SOURCE_DIR = Path(__file__).resolve().parent / "translations"
LANGUAGES = ("vi", "en")

babel = Babel()


def compile_catalogs(target: Path) -> Path:
    """Every `<lang>/LC_MESSAGES/*.po` under app/translations → `.mo` under `target` (only when stale)."""
    for po in sorted(SOURCE_DIR.glob("*/LC_MESSAGES/*.po")):
        mo = target / po.relative_to(SOURCE_DIR).with_suffix(".mo")
        stamp = po.stat().st_mtime_ns
        if mo.exists() and mo.stat().st_mtime_ns == stamp:
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=po.parts[-3])
        fd, tmp = tempfile.mkstemp(dir=mo.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            write_mo(out, catalog)
        os.utime(tmp, ns=(stamp, stamp))  # the .mo carries the .po's time: any edit of the .po recompiles
        os.replace(tmp, mo)  # atomic: parallel workers never read half a file
    return target


def init_app(app: Flask) -> None:
    from app.web.helpers import lang

    cache = Path(app.config.get("TRANSLATIONS_CACHE_DIR") or Path(app.instance_path) / "translations")
    try:
        target = compile_catalogs(cache)
    except OSError:  # a read-only instance folder: compile into a private temporary folder instead
        target = compile_catalogs(Path(tempfile.mkdtemp(prefix="motcua-i18n-")))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "vi")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(target)
    babel.init_app(app, locale_selector=lang)


def N_(text: str) -> str:
    """Marks a text for the catalog where it is defined; it is translated where it is shown (gettext / `|tr`)."""
    return text


def tr(text: str | None) -> str | None:
    """gettext for a text held in a variable (no %-formatting, so any text is safe); Vietnamese unchanged."""
    from flask_babel import gettext

    return gettext(text) if text else text


def translated_schema(schema: Any) -> Any:
    """A copy of one of the app's own JSON Schemas (never a procedure's form: that is data) with every `title`
    and `description` translated into the page's language."""
    if isinstance(schema, dict):
        return {k: (tr(v) if k in ("title", "description") and isinstance(v, str) else translated_schema(v))
                for k, v in schema.items()}
    if isinstance(schema, list):
        return [translated_schema(v) for v in schema]
    return schema
