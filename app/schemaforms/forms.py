"""Server-rendered WTForms built from a form's JSON Schema and rjsf UI schema.

WTForms only renders and collects input here; validation is always the jsonschema one
(:func:`validate_data`), run by :meth:`SchemaForm.validate_schema`, so the web path and the
JSON API accept and refuse exactly the same data.
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any, ClassVar, NamedTuple

from werkzeug.datastructures import FileStorage, MultiDict
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    FileField,
    FloatField,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.fields.core import UnboundField

from . import vn
from .dataurl import DEFAULT_MIME, decode_data_url, encode_data_url
from .schema import (
    choice_key,
    choices_of,
    deref,
    is_file,
    is_file_array,
    json_type,
    ordered_names,
    properties_of,
)
from .validation import validate_data

__all__ = [
    "ErrorItem", "FieldSpec", "SchemaForm", "build_form", "parse_date", "parse_integer", "parse_number",
]

TEXTS: dict[str, dict[str, str]] = {
    "vi": {"blank_choice": "— Chọn —", "yes": "Có", "no": "Không", "date_placeholder": "dd/mm/yyyy"},
    "en": {"blank_choice": "— Select —", "yes": "Yes", "no": "No", "date_placeholder": "dd/mm/yyyy"},
}

#: A string longer than this is edited in a textarea.
TEXTAREA_OVER = 255

# Attribute names a field must not take on the form instance (WTForms or ours).
_RESERVED_ATTRS = frozenset({"form_errors", "meta", "clean_data"})


# --------------------------------------------------------------------------- parsing


def parse_integer(text: Any) -> int | None:
    """``"42"``, ``" -7 "``, ``"1 000"`` → int; anything else (``"1.5"``, ``"abc"``) → None."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text
    cleaned = re.sub(r"[\s\u00a0]", "", str(text or ""))
    if re.fullmatch(r"[+-]?\d+", cleaned):
        return int(cleaned)
    return None


def parse_number(text: Any) -> int | float | None:
    """A number from form input; a single decimal comma (``"2,5"``) is accepted.

    Integral values come back as int (``"3.0"`` → 3), others as float; ``None`` if unreadable.
    """
    if isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        value = Decimal(str(text))
    else:
        cleaned = re.sub(r"[\s\u00a0]", "", str(text or ""))
        if cleaned.count(",") == 1 and "." not in cleaned:
            cleaned = cleaned.replace(",", ".")
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", cleaned):
            return None
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            return None
    if not value.is_finite():
        return None
    if value == value.to_integral_value():
        return int(value)
    return float(value)


_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DMY_DATE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")


def parse_date(text: Any) -> date | None:
    """``YYYY-MM-DD`` (HTML date input) or ``dd/mm/yyyy`` (also ``dd-mm-yyyy``, ``dd.mm.yyyy``)."""
    if isinstance(text, date):
        return text
    text = str(text or "").strip()
    iso = _ISO_DATE.match(text)
    dmy = _DMY_DATE.match(text)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if dmy:
            return date(int(dmy[3]), int(dmy[2]), int(dmy[1]))
    except ValueError:
        return None
    return None


# --------------------------------------------------------------------------- fields


class SchemaIntegerField(IntegerField):
    """An integer input that never raises: unreadable input leaves ``data`` None and the raw
    text in ``raw_data``, for the jsonschema type check to report in Vietnamese."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = parse_integer(valuelist[0]) if valuelist else None


class SchemaNumberField(FloatField):
    """A number input (``step="any"``) that accepts a decimal comma and never raises."""

    def process_data(self, value: Any) -> None:
        self.data = parse_number(value) if value is not None else None

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = parse_number(valuelist[0]) if valuelist else None


class SchemaDateField(DateField):
    """An HTML date input accepting both ``YYYY-MM-DD`` and ``dd/mm/yyyy``; never raises."""

    def process_data(self, value: Any) -> None:
        self.data = parse_date(value) if value not in (None, "") else None

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = parse_date(valuelist[0]) if valuelist else None

    def _value(self) -> str:
        if isinstance(self.data, date):
            return self.data.isoformat()
        return str(self.raw_data[0]) if self.raw_data else ""


class SchemaMoneyField(StringField):
    """An amount in đồng (``vn-money``): a text input that also reads ``200.000``, ``200 000 đ``
    and shows the amount with dots; never raises (unreadable input stays in ``raw_data``)."""

    def process_data(self, value: Any) -> None:
        self.data = vn.parse_money(value) if value not in (None, "") else None

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = vn.parse_money(valuelist[0]) if valuelist else None

    def _value(self) -> str:
        if isinstance(self.data, int):
            return vn.format_money(self.data, unit=False)
        return str(self.raw_data[0]) if self.raw_data else ""


#: formats rendered as a select of places (:mod:`app.schemaforms.vn`)
_PLACE_FORMATS = ("vn-province", "vn-ward")


def _place_choices(prop: Mapping[str, Any], province_code: Any, lang: str) -> list[SelectChoice]:
    """The options of a province or ward select: a blank choice, then the places (for a ward,
    only the given province's wards when it is a known province, else every ward by province)."""
    blank = SelectChoice("", TEXTS.get(lang, TEXTS["vi"])["blank_choice"])
    if prop.get("format") == "vn-province":
        return [blank, *_province_options()]
    return [blank, *_ward_options(province_code if vn.province(province_code) else None)]


_PLACE_CACHE: dict[Any, tuple[SelectChoice, ...]] = {}


def _province_options() -> tuple[SelectChoice, ...]:
    if "provinces" not in _PLACE_CACHE:
        _PLACE_CACHE["provinces"] = tuple(SelectChoice(code, name) for code, name in vn.province_choices())
    return _PLACE_CACHE["provinces"]


def _ward_options(province_code: str | None) -> tuple[SelectChoice, ...]:
    key = ("wards", province_code)
    if key not in _PLACE_CACHE:
        _PLACE_CACHE[key] = tuple(SelectChoice(code, name, optgroup=group)
                                  for code, name, group in vn.ward_choices(province_code))
    return _PLACE_CACHE[key]


class MultiCheckboxField(SelectMultipleField):
    """Several choices as a list of checkboxes (rendered in a fieldset by the macros)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


@dataclass(frozen=True)
class FieldSpec:
    """How one schema property maps to one WTForms field."""

    attr: str  #: attribute name on the form (the property name unless reserved)
    name: str  #: property name (key in the data, HTML name)
    path: str  #: dotted path from the root ("applicant.phone")
    kind: str  #: text, textarea, email, date, integer, number, money, select, radio, checkboxes,
    #: multiselect, checkbox, file, files, hidden, object
    schema: Mapping[str, Any]
    ui: Mapping[str, Any]
    required: bool
    title: str
    hint: str
    help: str
    choice_map: Mapping[str, Any] | None = None

    @property
    def multi(self) -> bool:
        return self.kind in ("checkboxes", "multiselect", "files")


class ErrorItem(NamedTuple):
    """One line of the error summary: the id to link to (None: nothing to link) and the message."""

    id: str | None
    message: str


class _Nested:
    """Carries a nested object's data through ``FormField`` untouched (a plain dict would be
    splatted into keyword arguments, and a property called ``meta`` would be misread)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = dict(data)


# --------------------------------------------------------------------------- the form


class SchemaForm(Form):
    """A WTForms form generated from a JSON Schema by :func:`build_form`.

    Each bound field carries ``sf_kind``, ``sf_name``, ``sf_path``, ``sf_required``,
    ``sf_hint``, ``sf_help`` and ``sf_current`` (names of files already held), plus
    ``sf_error_list()``, ``sf_describedby()`` and ``sf_input_kwargs()`` used by the macros.
    """

    sf_schema: ClassVar[Mapping[str, Any]] = {"type": "object", "properties": {}}
    sf_root: ClassVar[Mapping[str, Any]] = {"type": "object", "properties": {}}
    sf_ui: ClassVar[Mapping[str, Any]] = {}
    sf_lang: ClassVar[str] = "vi"
    sf_path: ClassVar[str] = ""
    sf_specs: ClassVar[tuple[FieldSpec, ...]] = ()

    def __init__(self, formdata: Any = None, obj: Any = None, prefix: str = "",
                 data: Mapping[str, Any] | None = None, meta: Any = None, **kwargs: Any) -> None:
        if isinstance(obj, _Nested):
            data, obj = obj.data, None
        if formdata is not None and not hasattr(formdata, "getlist") and isinstance(formdata, Mapping):
            formdata = MultiDict(formdata)
        if formdata is not None and _is_empty(formdata):
            formdata = None  # nothing was submitted: show data/defaults
        given = dict(data or {})
        given.update(kwargs)
        native: dict[str, Any] = {}
        current: dict[str, list[str]] = {}
        for spec in self.sf_specs:
            if spec.name in given:
                if spec.kind in ("file", "files"):
                    current[spec.attr] = _file_names(given[spec.name])
                else:
                    native[spec.attr] = _to_native(spec, given[spec.name])
        super().__init__(formdata=formdata, obj=obj, prefix=prefix, data=native, meta=meta)
        self.sf_submitted: bool = formdata is not None
        self.clean_data: dict[str, Any] | None = None
        self.sf_errors: dict[str, list[str]] = {}
        for spec in self.sf_specs:
            field = self._fields[spec.attr]
            field.sf_kind = spec.kind
            field.sf_name = spec.name
            field.sf_path = spec.path
            field.sf_required = spec.required
            field.sf_hint = spec.hint
            field.sf_help = spec.help
            field.sf_current = current.get(spec.attr, [])
            if field.sf_current and field.render_kw and "required" in field.render_kw:
                # A file is already held: the browser must not insist on a new one.
                field.render_kw = {k: v for k, v in field.render_kw.items() if k != "required"}
            field.sf_error_list = partial(_error_list, field)
            field.sf_describedby = partial(_describedby, field)
            field.sf_input_kwargs = partial(_input_kwargs, field)
            if self.sf_submitted and spec.kind not in ("object", "checkbox") and not field.raw_data:
                # The submission is authoritative: a field it lacks is empty, not "as before".
                field.data = [] if spec.multi else None
        self._sf_narrow_wards()

    def _sf_narrow_wards(self) -> None:
        """A ward select lists only the wards of the province its ``x-province-field`` holds
        (submitted, saved or default); with no known province it keeps every ward by province."""
        for spec in self.sf_specs:
            if spec.kind != "select" or spec.schema.get("format") != "vn-ward":
                continue
            link = spec.schema.get(vn.PROVINCE_LINK)
            chosen = next((self._fields[o.attr].data for o in self.sf_specs if o.name == link), None)
            self._fields[spec.attr].choices = _place_choices(spec.schema, chosen, self.sf_lang)

    # -- data -------------------------------------------------------------------------

    @property
    def sf_prefix(self) -> str:
        """The form's name prefix ("" when none), handy for unique ids in templates."""
        return self._prefix

    def sf_field(self, name: str) -> Any:
        """The bound field of property ``name`` (attribute names may differ for reserved names)."""
        for spec in self.sf_specs:
            if spec.name == name:
                return self._fields[spec.attr]
        raise KeyError(name)

    def to_data(self) -> dict[str, Any]:
        """The submitted values as JSON-native data in the schema's types.

        Dates are ``"YYYY-MM-DD"``, integers int, numbers int or float, booleans bool,
        choices their schema value (not the HTML string), several choices or files a list,
        a nested object a dict. Uploaded files (werkzeug ``FileStorage``) become rjsf data
        URLs via :func:`encode_data_url`. Empty optional fields are left out (a checkbox is
        never empty: it is True or False). Input that cannot be converted (``"abc"`` for an
        integer, ``"31/02/2024"`` for a date) is passed on as the raw string so that
        validation reports it. A file field left empty gives nothing, even when ``data``
        held a file: the caller decides whether to keep the old one.
        """
        result: dict[str, Any] = {}
        for spec in self.sf_specs:
            present, value = _extract(spec, self._fields[spec.attr])
            if present:
                result[spec.name] = value
        return result

    # -- validation -------------------------------------------------------------------

    def validate_schema(self, lang: str | None = None) -> bool:
        """Run :meth:`to_data` then :func:`validate_data`; attach each message to its field.

        Messages on a field go to that field's ``errors``; on a nested object to its
        sub-form's ``form_errors``; on the root or on keys no field shows (extra keys) to
        ``form_errors``. The data is kept in ``clean_data`` (also when invalid) and the
        error dict in ``sf_errors``. ``lang`` defaults to the language the form was built
        with. Returns True when there are no errors.
        """
        lang = lang or self.sf_lang
        data = self.to_data()
        schema = dict(self.sf_schema)
        if self.sf_path and "definitions" in self.sf_root and "definitions" not in schema:
            schema["definitions"] = self.sf_root["definitions"]
        errors = validate_data(schema, data, lang=lang)
        self._sf_reset_errors()
        for key, messages in errors.items():
            if not self._sf_attach(key.split(".") if key else [], messages):
                self.form_errors.extend(m for m in messages if m not in self.form_errors)
        self.clean_data = data
        self.sf_errors = errors
        return not errors

    def validate(self, extra_validators: Any = None) -> bool:
        """Same as :meth:`validate_schema`: the schema is the only source of rules."""
        return self.validate_schema()

    def sf_error_items(self) -> list[ErrorItem]:
        """Every error in field order, with the id of the control to link to."""
        items = [ErrorItem(None, message) for message in self.form_errors]
        items.extend(self._sf_field_error_items())
        return items

    def _sf_field_error_items(self) -> list[ErrorItem]:
        items: list[ErrorItem] = []
        for spec in self.sf_specs:
            field = self._fields[spec.attr]
            if spec.kind == "object":
                items.extend(ErrorItem(field.id, m) for m in field.form.form_errors)
                items.extend(field.form._sf_field_error_items())
                continue
            if spec.kind == "hidden":
                anchor = None
            elif spec.kind in ("radio", "checkboxes"):
                anchor = f"{field.id}-0"
            else:
                anchor = field.id
            items.extend(ErrorItem(anchor, m) for m in field.errors)
        return items

    def _sf_reset_errors(self) -> None:
        self.form_errors = []
        for spec in self.sf_specs:
            field = self._fields[spec.attr]
            if spec.kind == "object":
                field.form._sf_reset_errors()
            else:
                field.errors = []

    def _sf_attach(self, parts: list[str], messages: list[str]) -> bool:
        if not parts:
            self.form_errors.extend(m for m in messages if m not in self.form_errors)
            return True
        for spec in self.sf_specs:
            if spec.name == parts[0]:
                field = self._fields[spec.attr]
                if spec.kind == "object":
                    return field.form._sf_attach(parts[1:], messages)
                field.errors.extend(m for m in messages if m not in field.errors)
                return True
        return False


def _is_empty(formdata: Any) -> bool:
    try:
        return len(formdata) == 0
    except TypeError:
        return False


def _error_list(field: Any) -> list[str]:
    if getattr(field, "sf_kind", None) == "object":
        return list(field.form.form_errors)
    return list(field.errors or [])


def _describedby(field: Any) -> str:
    ids = []
    if field.sf_hint:
        ids.append(f"{field.id}-hint")
    if field.sf_current:
        ids.append(f"{field.id}-current")
    if field.sf_help:
        ids.append(f"{field.id}-help")
    if _error_list(field):
        ids.append(f"{field.id}-error")
    return " ".join(ids)


def _input_kwargs(field: Any) -> dict[str, str]:
    """``aria-describedby`` / ``aria-invalid`` for the control of a field."""
    attrs: dict[str, str] = {}
    describedby = _describedby(field)
    if describedby:
        attrs["aria-describedby"] = describedby
    if _error_list(field):
        attrs["aria-invalid"] = "true"
    return attrs


# --------------------------------------------------------------------------- conversions


def _file_names(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    names = []
    for item in values:
        if isinstance(item, Mapping) and item.get("filename"):
            names.append(str(item["filename"]))
        elif isinstance(item, str) and item:
            try:
                names.append(decode_data_url(item)[0])
            except ValueError:
                continue
    return names


def _to_native(spec: FieldSpec, value: Any) -> Any:
    """Schema data → what the WTForms field holds."""
    kind = spec.kind
    if value is None:
        return [] if spec.multi else None
    if kind == "object":
        return _Nested(value) if isinstance(value, Mapping) else None
    if kind in ("select", "radio"):
        return choice_key(value)
    if kind in ("checkboxes", "multiselect"):
        return [choice_key(v) for v in value] if isinstance(value, list) else []
    if kind == "checkbox":
        return bool(value)
    if kind == "date":
        return parse_date(value)
    if kind == "integer":
        return parse_integer(value)
    if kind == "money":
        return vn.parse_money(value)
    if kind == "number":
        return parse_number(value)
    if kind == "hidden":
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False)
    return value if isinstance(value, str) else str(value)


def _raw(field: Any) -> str:
    raw = field.raw_data[0] if getattr(field, "raw_data", None) else ""
    return raw.strip() if isinstance(raw, str) else ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).replace("\r\n", "\n").replace("\r", "\n").strip()


def _upload(storage: Any) -> str | None:
    if not isinstance(storage, FileStorage) or not storage.filename:
        return None
    try:
        storage.stream.seek(0)
    except (AttributeError, OSError, ValueError):
        pass
    content = storage.stream.read()
    mime = (storage.mimetype or "").lower()
    if not mime or mime == DEFAULT_MIME:
        mime = mimetypes.guess_type(storage.filename)[0] or DEFAULT_MIME
    return encode_data_url(storage.filename, mime, content)


def _hidden_value(spec: FieldSpec, text: str) -> tuple[bool, Any]:
    if text == "":
        return False, None
    kind = json_type(spec.schema)
    if kind == "integer":
        parsed: Any = parse_integer(text)
    elif kind == "number":
        parsed = parse_number(text)
    elif kind == "boolean":
        parsed = {"true": True, "false": False}.get(text.lower())
    elif kind in ("array", "object"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
    else:
        return True, text
    return True, text if parsed is None else parsed


def _extract(spec: FieldSpec, field: Any) -> tuple[bool, Any]:
    """(present, value) of one field for :meth:`SchemaForm.to_data`."""
    kind = spec.kind
    data = field.data
    if kind == "object":
        sub = field.form.to_data()
        if spec.required or any(v is not False for v in sub.values()):
            return True, sub
        return False, None
    if kind == "checkbox":
        return True, bool(data)
    if kind == "file":
        storages = field.raw_data if field.raw_data else [data]
        for storage in storages:
            url = _upload(storage)
            if url:
                return True, url
        return False, None
    if kind == "files":
        urls = [u for u in (_upload(s) for s in (data or [])) if u]
        return (True, urls) if urls else (False, None)
    if kind in ("select", "radio"):
        if data in (None, ""):
            return False, None
        return True, spec.choice_map.get(data, data) if spec.choice_map is not None else data
    if kind in ("checkboxes", "multiselect"):
        keys = [k for k in (data or []) if k not in (None, "")]
        if not keys:
            return False, None
        choice_map = spec.choice_map or {}
        return True, [choice_map.get(k, k) for k in keys]
    if kind in ("integer", "number", "money"):
        if data is not None and not isinstance(data, bool):
            value = parse_number(data) if kind == "number" else data
            return True, value
        raw = _raw(field)
        return (True, raw) if raw else (False, None)
    if kind == "date":
        if isinstance(data, date):
            return True, data.isoformat()
        raw = _raw(field)
        return (True, raw) if raw else (False, None)
    if kind == "hidden":
        return _hidden_value(spec, _text(data))
    text = _text(data)
    return (True, text) if text else (False, None)


# --------------------------------------------------------------------------- building


def _attr_name(name: str, used: set[str]) -> str:
    def free(candidate: str) -> bool:
        return (
            candidate.isidentifier()
            and not candidate.startswith(("_", "sf_"))
            and candidate not in _RESERVED_ATTRS
            and not hasattr(SchemaForm, candidate)
            and candidate not in used
        )

    if free(name):
        return name
    base = "sfp_" + re.sub(r"\W", "_", name).strip("_")
    candidate, n = base, 1
    while not free(candidate):
        n += 1
        candidate = f"{base}_{n}"
    return candidate


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _make_spec(attr: str, name: str, path: str, prop: Mapping[str, Any], ui: Mapping[str, Any],
               required: bool, root: Mapping[str, Any], lang: str) -> FieldSpec:
    texts = TEXTS.get(lang, TEXTS["vi"])
    widget = ui.get("ui:widget")
    kind_type = json_type(prop)
    choice_map: dict[str, Any] | None = None
    choices = choices_of(prop)
    if widget == "hidden":
        kind = "hidden"
    elif kind_type == "object":
        kind = "object"
    elif kind_type == "array":
        items = deref(root, prop.get("items"))
        item_choices = choices_of(items)
        if is_file_array(prop, root):
            kind = "files"
        elif item_choices is not None:
            kind = "multiselect" if widget == "select" else "checkboxes"
            choice_map = {choice_key(v): v for v, _ in item_choices}
        else:
            raise ValueError(
                f"Trường “{path}”: danh sách chỉ hỗ trợ nhiều lựa chọn (enum/oneOf) "
                "hoặc nhiều tệp (data-url)."
            )
    elif is_file(prop, root):
        kind = "file"
    elif kind_type == "string" and prop.get("format") in _PLACE_FORMATS:
        kind = "select"  # options from app.schemaforms.vn, not from the schema
    elif kind_type == "integer" and prop.get("format") == "vn-money":
        kind = "money"
    elif kind_type == "boolean" and widget not in ("radio", "select"):
        kind = "checkbox"  # like rjsf, also with enum/oneOf/const (e.g. a consent: "const": true)
    elif choices is not None or kind_type == "boolean":
        if choices is None:
            choices = [(True, texts["yes"]), (False, texts["no"])]
        kind = "radio" if widget == "radio" else "select"
        choice_map = {choice_key(v): v for v, _ in choices}
    elif kind_type == "integer":
        kind = "integer"
    elif kind_type == "number":
        kind = "number"
    elif prop.get("format") == "date":
        kind = "date"
    elif prop.get("format") == "email":
        kind = "email"
    elif widget == "textarea" or (
        isinstance(prop.get("maxLength"), int) and prop["maxLength"] > TEXTAREA_OVER
    ):
        kind = "textarea"
    else:
        kind = "text"
    return FieldSpec(
        attr=attr, name=name, path=path, kind=kind, schema=prop, ui=ui, required=required,
        title=_str(ui.get("ui:title")) or _str(prop.get("title")) or name,
        hint=_str(ui.get("ui:description")) or _str(prop.get("description")),
        help=_str(ui.get("ui:help")),
        choice_map=choice_map,
    )


def _render_kw(spec: FieldSpec, lang: str) -> dict[str, Any]:
    prop, ui, kind = spec.schema, spec.ui, spec.kind
    options = ui.get("ui:options") if isinstance(ui.get("ui:options"), Mapping) else {}
    kw: dict[str, Any] = {}
    if kind == "hidden":
        return kw
    placeholder = _str(ui.get("ui:placeholder"))
    if kind == "date" and not placeholder:
        placeholder = TEXTS.get(lang, TEXTS["vi"])["date_placeholder"]
    if placeholder and kind in ("text", "textarea", "email", "date", "integer", "number", "money"):
        kw["placeholder"] = placeholder
    if ui.get("ui:autofocus"):
        kw["autofocus"] = True
    if kind in ("text", "textarea", "email"):
        if isinstance(prop.get("minLength"), int) and prop["minLength"] > 0:
            kw["minlength"] = prop["minLength"]
        if isinstance(prop.get("maxLength"), int):
            kw["maxlength"] = prop["maxLength"]
    if kind == "text" and isinstance(prop.get("pattern"), str):
        pattern = prop["pattern"]
        anchored = pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$")
        kw["pattern"] = pattern if anchored else f".*(?:{pattern}).*"
    if kind == "text" and prop.get("format") == "vn-phone":
        kw["type"] = "tel"
    if kind == "text" and prop.get("format") == "vn-cccd":
        kw["inputmode"] = "numeric"
    if kind == "money":
        kw["inputmode"] = "numeric"
    if kind == "textarea":
        kw["rows"] = options.get("rows", 5)
    if kind in ("integer", "number"):
        for key, attr in (("minimum", "min"), ("maximum", "max"), ("multipleOf", "step")):
            if isinstance(prop.get(key), int | float) and not isinstance(prop.get(key), bool):
                kw[attr] = prop[key]
        if kind == "integer":
            kw.setdefault("step", 1)
        kw["inputmode"] = "numeric" if kind == "integer" else "decimal"
    if kind in ("file", "files"):
        accept = options.get("accept") or ui.get("ui:accept")
        if isinstance(accept, list):
            accept = ",".join(str(a) for a in accept)
        if accept:
            kw["accept"] = str(accept)
    if spec.required and kind not in ("checkbox", "checkboxes", "object"):
        kw["required"] = True
    if kind == "checkbox" and (prop.get("const") is True or prop.get("enum") == [True]):
        kw["required"] = True
    if kind == "select" and isinstance(options.get("size"), int):
        kw["size"] = options["size"]
    return kw


def _unbound(spec: FieldSpec, root: Mapping[str, Any], lang: str) -> UnboundField:
    texts = TEXTS.get(lang, TEXTS["vi"])
    prop = spec.schema
    common: dict[str, Any] = {"label": spec.title, "description": spec.hint, "name": spec.name}
    if spec.kind == "object":
        sub = _form_class(prop, spec.ui, root, lang, spec.path + ".")
        return FormField(sub, separator="-", **common)
    default = None if spec.kind in ("file", "files") else prop.get("default")
    if default is not None:
        common["default"] = _to_native(spec, default)
    kw = _render_kw(spec, lang)
    if kw:
        common["render_kw"] = kw
    kind = spec.kind
    if kind == "select" and prop.get("format") in _PLACE_FORMATS:
        return SelectField(choices=_place_choices(prop, None, lang), validate_choice=False, **common)
    if kind in ("select", "radio", "checkboxes", "multiselect"):
        source = choices_of(deref(root, prop.get("items"))) if kind in ("checkboxes", "multiselect") else (
            choices_of(prop) or [(True, texts["yes"]), (False, texts["no"])]
        )
        options = [SelectChoice(choice_key(v), title) for v, title in source or []]
        if kind == "select":
            options.insert(0, SelectChoice("", texts["blank_choice"]))
            return SelectField(choices=options, validate_choice=False, **common)
        if kind == "radio":
            return RadioField(choices=options, validate_choice=False, **common)
        if kind == "multiselect":
            return SelectMultipleField(choices=options, validate_choice=False, **common)
        return MultiCheckboxField(choices=options, validate_choice=False, **common)
    field_class = {
        "hidden": HiddenField,
        "checkbox": BooleanField,
        "integer": SchemaIntegerField,
        "number": SchemaNumberField,
        "money": SchemaMoneyField,
        "date": SchemaDateField,
        "email": EmailField,
        "textarea": TextAreaField,
        "file": FileField,
        "files": MultipleFileField,
    }.get(kind, StringField)
    return field_class(**common)


def _form_class(schema: Mapping[str, Any], ui: Any, root: Mapping[str, Any], lang: str,
                path: str) -> type[SchemaForm]:
    schema = deref(root, schema)
    ui = ui if isinstance(ui, Mapping) else {}
    # Conditional fields (dependencies / then / else branches) are shown too, after the
    # others: without JavaScript the page cannot reveal them when they start to apply.
    props = properties_of(schema, root)
    required = set(schema.get("required") or [])
    attrs: dict[str, Any] = {
        "sf_schema": schema, "sf_root": root, "sf_ui": ui, "sf_lang": lang, "sf_path": path,
    }
    specs: list[FieldSpec] = []
    used: set[str] = set()
    for name in ordered_names(list(props), ui):
        prop = deref(root, props[name])
        if not isinstance(prop, Mapping):
            continue
        prop_ui = ui.get(name) if isinstance(ui.get(name), Mapping) else {}
        attr = _attr_name(name, used)
        used.add(attr)
        spec = _make_spec(attr, name, path + name, prop, prop_ui, name in required, root, lang)
        specs.append(spec)
        attrs[attr] = _unbound(spec, root, lang)
    attrs["sf_specs"] = tuple(specs)
    return type("SchemaFormFor_" + (re.sub(r"\W", "_", path.strip(".")) or "root"), (SchemaForm,), attrs)


def build_form(schema: dict[str, Any], ui_schema: dict[str, Any] | None = None, *, formdata: Any = None,
               data: dict[str, Any] | None = None, prefix: str = "", lang: str = "vi") -> SchemaForm:
    """A :class:`SchemaForm` with one field per schema property, in ``ui:order``.

    :param schema: the form's JSON Schema (root ``"type": "object"``).
    :param ui_schema: optional rjsf UI schema (``ui:order``, ``ui:widget``, ``ui:help``,
        ``ui:placeholder``, ``ui:options.accept``; nested per property name).
    :param formdata: the submission, e.g. ``CombinedMultiDict([request.files, request.form])``;
        when given and non-empty it is authoritative (``data`` is then only used to show
        which files are already held). A plain dict is accepted too.
    :param data: existing schema data to show (e.g. a saved draft), in the schema's types.
    :param prefix: WTForms name prefix, to put several forms on one page.
    :param lang: ``"vi"`` or ``"en"``, for the blank choice text and validation messages.
    :raises ValueError: when a property cannot be rendered (``check_schema`` reports those).
    """
    form_class = _form_class(schema, ui_schema, schema, lang, "")
    return form_class(formdata=formdata, data=data, prefix=prefix)
