"""Server-side validation of submitted form data against the form's JSON Schema."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft7Validator, ValidationError
from jsonschema.validators import validator_for

from . import vn
from .formats import FORMAT_CHECKER
from .schema import choices_of, deref, is_file, is_file_array, json_type, properties_of, walk_objects

__all__ = ["MESSAGES", "validate_data"]

MESSAGES: dict[str, dict[str, str]] = {
    "vi": {
        "required": "Vui lòng nhập {title}.",
        "required_choice": "Vui lòng chọn {title}.",
        "required_file": "Vui lòng đính kèm {title}.",
        "type_integer": "{title} phải là số nguyên.",
        "type_number": "{title} phải là số.",
        "type_string": "{title} phải là chuỗi ký tự.",
        "type_boolean": "{title} chỉ nhận giá trị Có hoặc Không.",
        "type_array": "{title} phải là một danh sách.",
        "type_object": "{title} phải là một nhóm thông tin.",
        "type_null": "{title} phải để trống.",
        "enum": "Giá trị không hợp lệ cho {title}.",
        "minLength": "{title} phải có ít nhất {limit} ký tự.",
        "maxLength": "{title} không được dài quá {limit} ký tự.",
        "minimum": "{title} phải lớn hơn hoặc bằng {limit}.",
        "maximum": "{title} phải nhỏ hơn hoặc bằng {limit}.",
        "exclusiveMinimum": "{title} phải lớn hơn {limit}.",
        "exclusiveMaximum": "{title} phải nhỏ hơn {limit}.",
        "multipleOf": "{title} phải là bội số của {limit}.",
        "pattern": "{title} không đúng định dạng.",
        "format_date": "{title} không phải là ngày hợp lệ (dd/mm/yyyy).",
        "format_email": "{title} không phải là địa chỉ email hợp lệ.",
        "format_data-url": "{title} không phải là tệp hợp lệ.",
        "format": "{title} không đúng định dạng {limit}.",
        "minItems": "{title} phải có ít nhất {limit} mục.",
        "maxItems": "{title} chỉ được có tối đa {limit} mục.",
        "minItems_file": "{title}: cần đính kèm ít nhất {limit} tệp.",
        "maxItems_file": "{title}: chỉ được đính kèm tối đa {limit} tệp.",
        "uniqueItems": "{title} có giá trị bị trùng lặp.",
        "minProperties": "{title} phải có ít nhất {limit} thông tin.",
        "maxProperties": "{title} chỉ được có tối đa {limit} thông tin.",
        "additional": "Trường không có trong biểu mẫu: {name}",
        "invalid": "{title} không hợp lệ.",
        "item": "{title} (mục {index})",
        "file_item": "{title} (tệp thứ {index})",
        "form": "Biểu mẫu",
    },
    "en": {
        "required": "Enter {title}.",
        "required_choice": "Select {title}.",
        "required_file": "Attach {title}.",
        "type_integer": "{title} must be a whole number.",
        "type_number": "{title} must be a number.",
        "type_string": "{title} must be text.",
        "type_boolean": "{title} must be yes or no.",
        "type_array": "{title} must be a list.",
        "type_object": "{title} must be a group of fields.",
        "type_null": "{title} must be empty.",
        "enum": "Invalid value for {title}.",
        "minLength": "{title} must be at least {limit} characters long.",
        "maxLength": "{title} must be {limit} characters or fewer.",
        "minimum": "{title} must be {limit} or more.",
        "maximum": "{title} must be {limit} or less.",
        "exclusiveMinimum": "{title} must be more than {limit}.",
        "exclusiveMaximum": "{title} must be less than {limit}.",
        "multipleOf": "{title} must be a multiple of {limit}.",
        "pattern": "{title} is not in the right format.",
        "format_date": "{title} must be a real date (dd/mm/yyyy).",
        "format_email": "{title} must be a valid email address.",
        "format_data-url": "{title} is not a valid file.",
        "format": "{title} must be in the {limit} format.",
        "minItems": "{title} must have at least {limit} items.",
        "maxItems": "{title} must have {limit} items or fewer.",
        "minItems_file": "{title}: attach at least {limit} files.",
        "maxItems_file": "{title}: attach {limit} files or fewer.",
        "uniqueItems": "{title} contains duplicate values.",
        "minProperties": "{title} must have at least {limit} entries.",
        "maxProperties": "{title} must have {limit} entries or fewer.",
        "additional": "Field is not part of the form: {name}",
        "invalid": "{title} is invalid.",
        "item": "{title} (item {index})",
        "file_item": "{title} (file {index})",
        "form": "Form",
    },
}

for _lang, _texts in vn.MESSAGES.items():
    MESSAGES[_lang].update(_texts)

_LIMIT_KEYWORDS = frozenset({
    "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf", "minItems", "maxItems", "minProperties", "maxProperties",
})


def validate_data(schema: dict[str, Any], data: dict[str, Any], *, lang: str = "vi") -> dict[str, list[str]]:
    """Validate submitted form data; return ``{field path: [messages]}`` (empty when valid).

    - The validator class comes from ``validator_for(schema, default=Draft7Validator)``,
      with a format checker that knows ``date`` (YYYY-MM-DD), ``email``, ``data-url`` and the
      ``vn-*`` types (:mod:`app.schemaforms.vn`); a ward must lie in the province chosen in the
      property its ``x-province-field`` names.
    - Keys are dotted property paths (``"applicant.phone"``; ``""`` for the root); array
      indices are left out so a key always names a field, the message says which item.
    - Messages are human, Vietnamese (English with ``lang="en"``) and use the field's
      ``title`` (falling back to the property name).
    - Keys of ``data`` that the schema does not define are refused ("Trường không có
      trong biểu mẫu: x"), unless the object schema sets ``additionalProperties`` or
      ``patternProperties`` itself: callers cannot slip in process variables.
    - Like rjsf, a required field holding ``None``, a blank string or an empty list counts
      as missing and only gets the "required" message.
    - Keys come out in the schema's field order.
    """
    texts = MESSAGES.get(lang, MESSAGES["vi"])
    errors: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        bucket = errors.setdefault(key, [])
        if message not in bucket:
            bucket.append(message)

    cls = validator_for(schema, default=Draft7Validator)
    validator = cls(schema, format_checker=FORMAT_CHECKER)
    seen_required: set[tuple[str, str]] = set()
    for error in validator.iter_errors(data):
        for key, message in _messages(schema, error, texts, seen_required):
            add(key, message)

    blank_required: dict[str, str] = {}
    for path, obj_schema, obj in walk_objects(schema, schema, data):
        props = properties_of(obj_schema, schema)
        if "additionalProperties" not in obj_schema and "patternProperties" not in obj_schema:
            for key in obj:
                if key not in props:
                    add(".".join((*path, str(key))), texts["additional"].format(name=key))
        for name, key_name, args in vn.cross_field_errors(
                {k: deref(schema, v) for k, v in props.items()}, obj):
            if not isinstance(obj.get(name), str) or not obj[name].strip():
                continue
            title = _title(schema, (*path, name), texts, deref(schema, props.get(name)))
            add(".".join((*path, name)), texts[key_name].format(title=title, **args))
        for name in obj_schema.get("required") or ():
            if name in obj and _is_blank(obj[name]):
                key = ".".join((*path, name))
                blank_required[key] = _required_message(schema, (*path, name), props.get(name), name, texts)
    for key, message in blank_required.items():
        errors[key] = [message]

    order = _field_order(schema)
    return dict(sorted(errors.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _field_order(schema: Mapping[str, Any]) -> dict[str, int]:
    order: dict[str, int] = {"": 0}

    def visit(node: Any, prefix: str) -> None:
        for name, prop in properties_of(node, schema).items():
            order.setdefault(prefix + name, len(order))
            prop = deref(schema, prop)
            if json_type(prop) == "object":
                visit(prop, prefix + name + ".")
            elif json_type(prop) == "array" and json_type(deref(schema, prop.get("items"))) == "object":
                visit(deref(schema, prop.get("items")), prefix + name + ".")

    visit(schema, "")
    return order


def _subschema(root: Mapping[str, Any], path: tuple[Any, ...]) -> Any:
    node: Any = deref(root, root)
    for part in path:
        if not isinstance(node, Mapping):
            return None
        if isinstance(part, int):
            node = deref(root, node.get("items"))
        else:
            node = deref(root, properties_of(node, root).get(part))
    return node


def _title(root: Mapping[str, Any], path: tuple[Any, ...], texts: dict[str, str],
           fallback: Mapping[str, Any] | None = None) -> str:
    """The human name of the value at ``path``: its title, else its property name; an
    array item is named after its array with the item number."""
    if not path:
        title = root.get("title") if isinstance(root, Mapping) else None
        return str(title) if title else texts["form"]
    last = path[-1]
    if isinstance(last, int):
        parent = _subschema(root, path[:-1])
        item = _subschema(root, path)
        base = _title(root, path[:-1], texts)
        if isinstance(item, Mapping) and item.get("title") and item.get("title") != base:
            base = f"{base} – {item['title']}"
        template = "file_item" if is_file_array(parent, root) else "item"
        return texts[template].format(title=base, index=last + 1)
    node = _subschema(root, path)
    for candidate in (node, fallback):
        if isinstance(candidate, Mapping) and candidate.get("title"):
            return str(candidate["title"])
    return str(last)


def _key(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path if not isinstance(p, int))


def _required_message(root: Mapping[str, Any], path: tuple[Any, ...], prop: Any, name: str,
                      texts: dict[str, str]) -> str:
    prop = deref(root, prop)
    title = _title(root, path, texts, prop if isinstance(prop, Mapping) else None)
    if isinstance(prop, Mapping) and (is_file(prop, root) or is_file_array(prop, root)):
        return texts["required_file"].format(title=title)
    if isinstance(prop, Mapping) and (
        choices_of(prop) is not None or json_type(prop) == "boolean"
        or prop.get("format") in ("vn-province", "vn-ward")
        or (json_type(prop) == "array" and choices_of(deref(root, prop.get("items"))) is not None)
    ):
        return texts["required_choice"].format(title=title)
    return texts["required"].format(title=title)


def _limit(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _messages(root: Mapping[str, Any], error: ValidationError, texts: dict[str, str],
              seen_required: set[tuple[str, str]]) -> list[tuple[str, str]]:
    path = tuple(error.absolute_path)
    validator = error.validator
    value = error.validator_value
    here = error.schema if isinstance(error.schema, Mapping) else {}

    if validator in ("required", "dependencies"):
        instance = error.instance if isinstance(error.instance, Mapping) else {}
        if validator == "required":
            names = [n for n in value if n not in instance]
        else:
            names = [d for prop, deps in value.items() if prop in instance and isinstance(deps, list)
                     for d in deps if d not in instance]
        result = []
        for name in names:
            mark = (_key(path), name)
            if mark in seen_required:
                continue
            seen_required.add(mark)
            prop = properties_of(here, root).get(name)
            if prop is None:
                prop = properties_of(_subschema(root, path), root).get(name)
            key = _key((*path, name))
            result.append((key, _required_message(root, (*path, name), prop, name, texts)))
        return result

    if validator == "additionalProperties" and isinstance(error.instance, Mapping):
        props = properties_of(here, root)
        extras = [k for k in error.instance if k not in props]
        patterns = here.get("patternProperties") or {}
        if patterns:
            extras = [k for k in extras if not any(re.search(p, k) for p in patterns)]
        return [(_key((*path, k)), texts["additional"].format(name=k)) for k in extras]

    title = _title(root, path, texts, here)
    key = _key(path)
    if validator in ("pattern", "minLength", "maxLength") and str(here.get("format")).startswith("vn-") \
            and f"format_{here.get('format')}" in texts:
        # a Vietnamese field type: one message of its own (the same as its format check gives)
        return [(key, texts[f"format_{here['format']}"].format(title=title, limit=here["format"]))]
    if validator == "type":
        wanted = value if isinstance(value, str) else next((t for t in value if t != "null"), "null")
        template = texts.get(f"type_{wanted}", texts["invalid"])
        return [(key, template.format(title=title))]
    if validator in ("enum", "const") and error.instance is False and (value is True or value == [True]):
        # An unticked consent box ({"type": "boolean", "const": true}).
        return [(key, texts["required_choice"].format(title=title))]
    if validator in ("enum", "const") or (
        validator in ("oneOf", "anyOf") and isinstance(value, list)
        and all(isinstance(o, Mapping) and "const" in o for o in value)
    ):
        return [(key, texts["enum"].format(title=title))]
    if validator == "format":
        template = texts.get(f"format_{value}", texts["format"])
        return [(key, template.format(title=title, limit=value))]
    if validator in ("minItems", "maxItems") and is_file_array(_subschema(root, path), root):
        return [(key, texts[f"{validator}_file"].format(title=title, limit=_limit(value)))]
    if validator in ("minimum", "maximum") and here.get("exclusive" + validator.capitalize()) is True:
        validator = "exclusive" + validator.capitalize()  # draft 4 style boolean exclusive bounds
    if validator in _LIMIT_KEYWORDS:
        return [(key, texts[validator].format(title=title, limit=_limit(value)))]
    if validator in ("pattern", "uniqueItems"):
        return [(key, texts[validator].format(title=title))]
    return [(key, texts["invalid"].format(title=title))]
