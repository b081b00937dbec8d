"""Reading what officials decided, as the papers (02, 03, 07) and the citizen's timeline both need it.

A decision field is named `<suffix>` or `<prefix>_<suffix>` (`supplement_items`, `appraisal_supplement_items`,
`refusal_reason`…); its value is text (one item a line), a list of strings, or a list of {name/label, note}.
"""

from __future__ import annotations

from typing import Any


def as_lines(value: Any) -> list[str]:
    """The items of a decision value, trimmed (bullets dropped); [] for nothing."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [line.strip(" -•\t") for line in value.splitlines() if line.strip(" -•\t")]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return [str(value)]
    lines = []
    for item in value:
        if isinstance(item, dict):
            name = str(item.get("name") or item.get("label") or item.get("title") or "").strip()
            note = str(item.get("note") or item.get("reason") or "").strip()
            text = f"{name}: {note}" if name and note else name or note
        else:
            text = str(item).strip()
        if text:
            lines.append(text)
    return lines


def field_lines(data: dict[str, Any] | None, suffix: str) -> list[str]:
    """A task's non-empty `suffix` or `*_suffix` field as lines, the plain name first; [] if none."""
    data = data or {}
    for key in sorted(data, key=lambda k: k != suffix):
        if key == suffix or key.endswith("_" + suffix):
            lines = as_lines(data[key])
            if lines:
                return lines
    return []
