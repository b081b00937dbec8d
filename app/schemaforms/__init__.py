"""Procedure forms: JSON Schema (the SpiffArena / rjsf subset) rendered and validated on the server.

A form file is a JSON Schema (``{"title", "description", "type": "object", "properties",
"required"}``) with an optional rjsf UI schema. :func:`build_form` renders it as a WTForms
form (macros in ``templates/schemaforms/_macros.html``); :func:`validate_data` is the one
validation used by both the web pages (through :meth:`SchemaForm.validate_schema`) and the
JSON API. Files travel as rjsf data URLs (:func:`encode_data_url` / :func:`decode_data_url`).
Vietnamese field types (CCCD, phone, tax code, money, province and ward pickers) are custom
``format`` values described in :mod:`app.schemaforms.vn`.
"""

from __future__ import annotations

from . import vn
from .dataurl import decode_data_url, encode_data_url, safe_filename
from .forms import ErrorItem, SchemaForm, build_form
from .schema import KNOWN_FORMATS, check_schema, field_names, file_fields
from .validation import validate_data

__all__ = [
    "KNOWN_FORMATS",
    "ErrorItem",
    "SchemaForm",
    "build_form",
    "check_schema",
    "decode_data_url",
    "encode_data_url",
    "field_names",
    "file_fields",
    "safe_filename",
    "validate_data",
    "vn",
]
