"""Process designers: procedures, versions, the BPMN modeler, forms editor, catalogue record, trial runs."""

from __future__ import annotations

import importlib

from flask import Flask

#: modules of this package that define a blueprint `bp`
BLUEPRINT_MODULES = ("routes", "modeler", "forms_editor", "catalog_editor", "trial")


def register(app: Flask) -> None:
    for name in BLUEPRINT_MODULES:
        module = importlib.import_module(f"app.designer.{name}")
        app.register_blueprint(module.bp)
