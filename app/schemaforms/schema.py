"""The JSON Schema subset our forms use (the one SpiffArena / react-jsonschema-form uses).

Helpers shared by validation and form building, plus :func:`check_schema` (what a form
author sees when a form file is loaded), :func:`field_names` and :func:`file_fields`.
"""

from __future__ import annotations

import json
import keyword
import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft7Validator

from . import vn
from .formats import FORMAT_CHECKER

__all__ = [
    "KNOWN_FORMATS",
    "SUPPORTED_TYPES",
    "check_schema",
    "choice_key",
    "choices_of",
    "deref",
    "field_names",
    "file_fields",
    "is_file",
    "is_file_array",
    "json_type",
    "ordered_names",
    "properties_of",
    "walk_objects",
]

#: ``format`` values the server knows how to check and render (``vn-*``: see :mod:`app.schemaforms.vn`).
KNOWN_FORMATS = frozenset({"date", "email", "data-url"}) | vn.FORMATS
#: Property types the form renderer supports.
SUPPORTED_TYPES = ("string", "integer", "number", "boolean", "array", "object")

# --------------------------------------------------------------------------- helpers


def deref(root: Mapping[str, Any] | None, node: Any) -> Any:
    """Follow local ``$ref`` pointers (``#/definitions/x``) until a plain schema is reached.

    Remote or broken references are returned unchanged (``check_schema`` reports them).
    """
    seen: set[str] = set()
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and root is not None:
        ref = node["$ref"]
        if not ref.startswith("#") or ref in seen:
            return node
        seen.add(ref)
        target: Any = root
        for part in ref[1:].split("/")[1:] if ref != "#" else []:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(target, Mapping) and part in target:
                target = target[part]
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                return node
        node = target
    return node


def json_type(prop: Any) -> str | None:
    """The single JSON type of a property: ``type`` (``[T, "null"]`` counts as ``T``),
    else inferred from ``enum`` / ``const`` / ``oneOf`` consts, else ``None``."""
    if not isinstance(prop, Mapping):
        return None
    declared = prop.get("type")
    if isinstance(declared, str):
        return declared
    if isinstance(declared, list):
        non_null = [t for t in declared if t != "null"]
        return non_null[0] if len(non_null) == 1 and isinstance(non_null[0], str) else None
    values: list[Any] = []
    if isinstance(prop.get("enum"), list):
        values = list(prop["enum"])
    elif "const" in prop:
        values = [prop["const"]]
    else:
        for key in ("oneOf", "anyOf"):
            options = prop.get(key)
            if isinstance(options, list) and options and all(
                isinstance(o, Mapping) and "const" in o for o in options
            ):
                values = [o["const"] for o in options]
                break
    kinds = {_value_type(v) for v in values}
    if len(kinds) == 1:
        return kinds.pop()
    if kinds == {"integer", "number"}:
        return "number"
    return None


def _value_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "null"


def _matches_type(value: Any, type_name: str | None) -> bool:
    if type_name is None:
        return True
    actual = _value_type(value)
    return actual == type_name or (type_name == "number" and actual == "integer")


def choices_of(prop: Any) -> list[tuple[Any, str]] | None:
    """The choice list of a property as ``(value, title)`` pairs, or ``None`` when it has none.

    Understands ``enum`` (titles from rjsf's ``enumNames``) and ``oneOf`` / ``anyOf`` lists
    of ``{"const": ..., "title": ...}``.
    """
    if not isinstance(prop, Mapping):
        return None
    if isinstance(prop.get("enum"), list):
        names = prop.get("enumNames")
        names = names if isinstance(names, list) else []
        return [
            (value, str(names[i]) if i < len(names) and names[i] is not None else _plain(value))
            for i, value in enumerate(prop["enum"])
        ]
    for key in ("oneOf", "anyOf"):
        options = prop.get(key)
        if isinstance(options, list) and options and all(
            isinstance(o, Mapping) and "const" in o for o in options
        ):
            return [(o["const"], str(o.get("title") or _plain(o["const"]))) for o in options]
    return None


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def choice_key(value: Any) -> str:
    """The HTML ``value`` used for a choice: strings as they are, other JSON values encoded."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def is_file(prop: Any, root: Mapping[str, Any] | None = None) -> bool:
    """True for a single-file property: a string with ``"format": "data-url"``."""
    prop = deref(root, prop)
    return isinstance(prop, Mapping) and json_type(prop) == "string" and prop.get("format") == "data-url"


def is_file_array(prop: Any, root: Mapping[str, Any] | None = None) -> bool:
    """True for a several-files property: an array whose items are data-url strings."""
    prop = deref(root, prop)
    return (
        isinstance(prop, Mapping)
        and json_type(prop) == "array"
        and is_file(prop.get("items"), root)
    )


def properties_of(schema: Any, root: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every property an object schema may hold: ``properties`` plus those declared in
    ``dependencies`` / ``allOf`` / ``anyOf`` / ``oneOf`` / ``then`` / ``else`` branches
    (rjsf's conditional fields), own ones first. The object's own ``properties`` win on a
    name clash; among branches the first declaration wins."""
    schema = deref(root, schema)
    found: dict[str, Any] = {}
    if not isinstance(schema, Mapping):
        return found
    branches: list[Any] = []
    dependencies = schema.get("dependencies")
    if isinstance(dependencies, Mapping):
        branches.extend(v for v in dependencies.values() if isinstance(v, Mapping))
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            branches.extend(schema[key])
    # "if" only states a condition on properties declared elsewhere.
    branches.extend(schema.get(key) for key in ("then", "else"))
    for branch in branches:
        branch = deref(root, branch)
        if isinstance(branch, Mapping) and (
            "properties" in branch or "dependencies" in branch or "allOf" in branch
            or "oneOf" in branch or "anyOf" in branch
        ):
            for name, sub in properties_of(branch, root).items():
                found.setdefault(name, sub)
    own = schema.get("properties")
    if isinstance(own, Mapping):
        found = {**dict(own), **{k: v for k, v in found.items() if k not in own}}
    return found


def ordered_names(names: list[str], ui_schema: Mapping[str, Any] | None) -> list[str]:
    """Order property names as rjsf does with ``ui:order`` (``"*"`` stands for the rest).

    Names listed in ``ui:order`` that the schema lacks are ignored; without ``"*"``,
    unlisted names are appended in schema order.
    """
    order = ui_schema.get("ui:order") if isinstance(ui_schema, Mapping) else None
    if not isinstance(order, list) or not order:
        return list(names)
    listed = [n for n in order if n != "*"]
    rest = [n for n in names if n not in listed]
    result: list[str] = []
    for entry in order:
        if entry == "*":
            result.extend(n for n in rest if n not in result)
        elif entry in names and entry not in result:
            result.append(entry)
    result.extend(n for n in rest if n not in result)
    return result


def field_names(schema: dict[str, Any], ui_schema: dict[str, Any] | None = None) -> list[str]:
    """Top-level property names, in ``ui:order`` when a UI schema is given.

    Conditional properties declared in ``dependencies`` / ``then`` / ``else`` branches are
    included, after the object's own ``properties`` (before ``ui:order`` is applied).
    """
    return ordered_names(list(properties_of(schema, schema)), ui_schema)


def file_fields(schema: dict[str, Any]) -> list[str]:
    """Names of top-level properties that hold files (a data-url string, or an array of them)."""
    props = properties_of(schema, schema)
    return [name for name, prop in props.items() if is_file(prop, schema) or is_file_array(prop, schema)]


# --------------------------------------------------------------------------- check_schema


def check_schema(schema: dict[str, Any]) -> list[str]:
    """Problems with a form schema, as Vietnamese messages naming the property (empty if fine).

    Checks, in order: the JSON Schema Draft 7 metaschema (what rjsf uses); then our subset:
    the root is ``"type": "object"``; property names are Python identifiers (BPMN gateway
    conditions read them as variables) and not Python keywords; every property has a
    supported type; ``enum`` / ``enumNames`` / ``oneOf`` consts are well-formed and match
    the type; ``format`` is one we know (date, email, data-url on a string; the ``vn-*`` types
    of :mod:`app.schemaforms.vn`, ``vn-money`` on an integer) and a ward's ``x-province-field``
    names a sibling province property; ``pattern``
    compiles; bounds are consistent; ``default`` is valid; ``required`` names exist;
    arrays are choice lists or file lists; ``$ref`` is local.
    """
    if not isinstance(schema, Mapping):
        return ["Biểu mẫu phải là một đối tượng JSON."]
    problems: list[str] = []
    meta = Draft7Validator(Draft7Validator.META_SCHEMA)
    for error in sorted(meta.iter_errors(schema), key=lambda e: [str(p) for p in e.absolute_path]):
        problems.append(_meta_message(list(error.absolute_path), error.message))
    if problems:
        return problems
    if schema.get("type") != "object":
        problems.append("Biểu mẫu phải có “type”: “object” ở gốc.")
    _check_object(schema, schema, "", problems)
    return problems


def _meta_message(path: list[Any], detail: str) -> str:
    names: list[str] = []
    keyword_name: str | None = None
    i = 0
    while i < len(path):
        part = path[i]
        if part == "properties" and i + 1 < len(path) and keyword_name in (None, "items"):
            names.append(str(path[i + 1]))
            keyword_name = None
            i += 2
            continue
        if part == "items" and i + 1 < len(path) and path[i + 1] == "properties":
            keyword_name = "items"
            i += 1
            continue
        if isinstance(part, str):
            keyword_name = part
        i += 1
    where = f"Thuộc tính “{'.'.join(names)}”" if names else "Biểu mẫu"
    if keyword_name:
        return f"{where}: giá trị của “{keyword_name}” không hợp lệ ({detail})."
    return f"{where} không hợp lệ ({detail})."


def _label(path: str) -> str:
    return f"Thuộc tính “{path}”"


def _check_object(root: Mapping[str, Any], schema: Mapping[str, Any], prefix: str,
                  problems: list[str]) -> None:
    props = properties_of(schema, root)
    where = f"{_label(prefix[:-1])}" if prefix else "Biểu mẫu"
    for name in schema.get("required") or []:
        if name not in props:
            problems.append(f"{where}: trường bắt buộc “{name}” không có trong “properties”.")
    for name, prop in props.items():
        path = prefix + name
        if not name.isidentifier() or keyword.iskeyword(name) or unicodedata.normalize("NFKC", name) != name:
            problems.append(
                f"Tên trường “{path}” không hợp lệ: tên trường phải là một định danh Python "
                "(chữ cái, chữ số, dấu gạch dưới, không bắt đầu bằng chữ số, không trùng từ khoá) "
                "vì điều kiện rẽ nhánh BPMN dùng nó làm biến."
            )
        _check_property(root, prop, path, problems)
        _check_province_link(root, props, name, prop, path, problems)


def _check_province_link(root: Mapping[str, Any], props: Mapping[str, Any], name: str, raw: Any, path: str,
                         problems: list[str]) -> None:
    """A ward's ``x-province-field`` must name a sibling ``vn-province`` property."""
    prop = deref(root, raw)
    if not isinstance(prop, Mapping) or prop.get("format") != "vn-ward" or vn.PROVINCE_LINK not in prop:
        return
    link = prop[vn.PROVINCE_LINK]
    target = deref(root, props.get(link)) if isinstance(link, str) else None
    if not isinstance(target, Mapping) or target.get("format") != "vn-province":
        problems.append(
            f"{_label(path)}: “{vn.PROVINCE_LINK}” phải là tên một trường tỉnh, thành phố "
            f"(“format”: “vn-province”) cùng cấp; hiện là {json.dumps(link, ensure_ascii=False)}."
        )


def _check_property(root: Mapping[str, Any], raw: Any, path: str, problems: list[str]) -> None:
    label = _label(path)
    if isinstance(raw, Mapping) and isinstance(raw.get("$ref"), str) and not raw["$ref"].startswith("#"):
        problems.append(f"{label}: chỉ hỗ trợ “$ref” nội bộ (bắt đầu bằng “#”).")
        return
    prop = deref(root, raw)
    if not isinstance(prop, Mapping):
        problems.append(f"{label} phải được mô tả bằng một đối tượng (không dùng true/false).")
        return
    if isinstance(prop.get("$ref"), str):
        problems.append(f"{label}: không tìm thấy “{prop['$ref']}”.")
        return
    declared = prop.get("type")
    kind = json_type(prop)
    if kind is None:
        if declared is None:
            problems.append(f"{label} thiếu “type”.")
        else:
            problems.append(
                f"{label}: kiểu {json.dumps(declared)} không được hỗ trợ (chỉ một kiểu, có thể kèm “null”)."
            )
        return
    if kind not in SUPPORTED_TYPES:
        problems.append(
            f"{label}: kiểu “{kind}” không được hỗ trợ "
            "(chỉ dùng string, integer, number, boolean, array, object)."
        )
        return

    fmt = prop.get("format")
    if fmt is not None:
        if fmt not in KNOWN_FORMATS:
            problems.append(f"{label}: định dạng “{fmt}” không được hỗ trợ (chỉ có date, email, data-url, "
                            f"{', '.join(sorted(vn.FORMATS))}).")
        elif kind not in vn.FORMAT_TYPES.get(fmt, ("string",)):
            allowed = vn.FORMAT_TYPES.get(fmt, ("string",))
            problems.append(f"{label}: “format” chỉ dùng cho kiểu string." if allowed == ("string",) else
                            f"{label}: định dạng “{fmt}” chỉ dùng cho kiểu {' hoặc '.join(allowed)}.")
    if vn.PROVINCE_LINK in prop and fmt != "vn-ward":
        problems.append(f"{label}: “{vn.PROVINCE_LINK}” chỉ dùng cho trường xã, phường (“format”: “vn-ward”).")

    _check_choices(prop, kind, label, problems)

    pattern = prop.get("pattern")
    if isinstance(pattern, str):
        try:
            re.compile(pattern)
        except re.error as exc:
            problems.append(f"{label}: biểu thức “pattern” không hợp lệ ({exc}).")

    for low, high in (("minLength", "maxLength"), ("minimum", "maximum"), ("minItems", "maxItems")):
        lo, hi = prop.get(low), prop.get(high)
        if isinstance(lo, int | float) and isinstance(hi, int | float) and lo > hi:
            problems.append(f"{label}: “{low}” ({lo}) lớn hơn “{high}” ({hi}).")

    if kind == "array":
        items = deref(root, prop.get("items"))
        if not isinstance(items, Mapping):
            problems.append(f"{label}: danh sách (array) phải có “items” là một đối tượng.")
            return
        if is_file(items) or choices_of(items) is not None:
            _check_property(root, items, path + "[]", problems)
        else:
            problems.append(
                f"{label}: danh sách (array) chỉ hỗ trợ nhiều lựa chọn (items có enum/oneOf) "
                "hoặc nhiều tệp (items có “format”: “data-url”)."
            )
    elif kind == "object":
        _check_object(root, prop, path + ".", problems)

    if "default" in prop:
        validator = Draft7Validator(dict(prop, definitions=root.get("definitions", {})),
                                    format_checker=FORMAT_CHECKER)
        if any(True for _ in validator.iter_errors(prop["default"])):
            problems.append(f"{label}: giá trị mặc định “default” không hợp lệ.")


def _check_choices(prop: Mapping[str, Any], kind: str, label: str, problems: list[str]) -> None:
    if "enum" in prop:
        values = prop["enum"]
        if not values:
            problems.append(f"{label}: “enum” phải có ít nhất một giá trị.")
        bad = [v for v in values if not _matches_type(v, kind)]
        if bad:
            problems.append(f"{label}: giá trị trong “enum” không đúng kiểu {kind}: {_plain(bad[0])}.")
        if _has_duplicates(values):
            problems.append(f"{label}: “enum” có giá trị bị trùng.")
        names = prop.get("enumNames")
        if names is not None and (
            not isinstance(names, list) or len(names) != len(values)
            or not all(isinstance(n, str) and n.strip() for n in names)
        ):
            problems.append(f"{label}: “enumNames” phải là danh sách tên (chuỗi) cùng độ dài với “enum”.")
    elif "enumNames" in prop:
        problems.append(f"{label}: có “enumNames” nhưng thiếu “enum”.")
    for key in ("oneOf", "anyOf"):
        options = prop.get(key)
        if options is None:
            continue
        if not all(isinstance(o, Mapping) and "const" in o for o in options):
            problems.append(
                f"{label}: “{key}” chỉ được dùng làm danh sách lựa chọn, mỗi mục có dạng "
                "{\"const\": ..., \"title\": \"...\"}."
            )
            continue
        if any(not isinstance(o.get("title"), str) or not o["title"].strip() for o in options):
            problems.append(f"{label}: mỗi lựa chọn trong “{key}” phải có “title”.")
        consts = [o["const"] for o in options]
        bad = [v for v in consts if not _matches_type(v, kind)]
        if bad:
            problems.append(
                f"{label}: giá trị “const” trong “{key}” không đúng kiểu {kind}: {_plain(bad[0])}."
            )
        if _has_duplicates(consts):
            problems.append(f"{label}: “{key}” có giá trị “const” bị trùng.")


def _has_duplicates(values: list[Any]) -> bool:
    seen = [json.dumps(v, sort_keys=True) + _value_type(v) for v in values]
    return len(set(seen)) != len(seen)


def walk_objects(root: Mapping[str, Any], schema: Any, data: Any,
                 path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Mapping[str, Any], dict]]:
    """Yield ``(path, object schema, object data)`` for the root and every nested object
    found in ``data`` (array items included; indices are left out of the path)."""
    schema = deref(root, schema)
    if not isinstance(schema, Mapping) or not isinstance(data, dict):
        return
    yield path, schema, data
    props = properties_of(schema, root)
    for key, value in data.items():
        sub = deref(root, props.get(key))
        if not isinstance(sub, Mapping):
            continue
        if isinstance(value, dict):
            yield from walk_objects(root, sub, value, (*path, key))
        elif isinstance(value, list) and isinstance(deref(root, sub.get("items")), Mapping):
            for item in value:
                if isinstance(item, dict):
                    yield from walk_objects(root, sub["items"], item, (*path, key))
