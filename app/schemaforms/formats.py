"""The ``format`` checks the server applies: date (YYYY-MM-DD), email, data-url and the Vietnamese
field types of :mod:`app.schemaforms.vn` (``vn-cccd``, ``vn-phone``, ``vn-tax-code``, ``vn-money``,
``vn-province``, ``vn-ward``)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from jsonschema import FormatChecker

from . import vn
from .dataurl import decode_data_url

__all__ = ["FORMAT_CHECKER", "is_date", "is_email", "is_data_url"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Pragmatic address check: one "@", no spaces, a dotted domain with sane labels.
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def is_date(value: Any) -> bool:
    """A real calendar date written ``YYYY-MM-DD`` (non-strings pass: ``type`` checks them)."""
    if not isinstance(value, str):
        return True
    if not _DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_email(value: Any) -> bool:
    """A plausible e-mail address (``ten@mien.vn``); non-strings pass."""
    if not isinstance(value, str):
        return True
    return len(value) <= 254 and _EMAIL.match(value) is not None


def is_data_url(value: Any) -> bool:
    """A well-formed base64 data URL as rjsf produces it; non-strings pass."""
    if not isinstance(value, str):
        return True
    try:
        decode_data_url(value)
    except ValueError:
        return False
    return True


#: Knows exactly date, email, data-url and the ``vn-*`` formats; other formats are not checked
#: (check_schema refuses them).
FORMAT_CHECKER = FormatChecker(formats=())
FORMAT_CHECKER.checks("date")(is_date)
FORMAT_CHECKER.checks("email")(is_email)
FORMAT_CHECKER.checks("data-url")(is_data_url)
for _name, _check in vn.FORMAT_CHECKS.items():
    FORMAT_CHECKER.checks(_name)(_check)
