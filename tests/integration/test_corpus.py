"""BPMN from other tools, and `flask workflows check`.

Every file of the OMG BPMN MIWG reference suite (shared/corpus/bpmn-miwg-reference, beside the repository)
goes through `lint()` and through the command: none may raise, hang or print a traceback; each either
passes or is refused with at least one located error in Vietnamese.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from app.designer.lint import ERROR, lint

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("MOTCUA_BPMN_CORPUS", ROOT.parent / "shared" / "corpus" / "bpmn-miwg-reference"))
CORPUS_FILES = sorted(CORPUS.glob("*.bpmn")) if CORPUS.is_dir() else []
FIXTURES = ROOT / "tests" / "fixtures"
VIETNAMESE = re.compile(r"[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]", re.IGNORECASE)
HANG_GUARD_SECONDS = 10  # not a performance test: a file that takes this long is stuck

#: why each reference file is refused (one code among its errors); none of them names our forms, so
#: none can be published as it is
EXPECTED = {
    "A.1.0.bpmn": "no-process",
    "A.2.0.bpmn": "no-process",
    "A.2.1.bpmn": "no-process",
    "A.3.0.bpmn": "no-process",
    "A.4.0.bpmn": "no-process",
    "A.4.1.bpmn": "no-process",
    "B.1.0.bpmn": "no-process",
    "B.2.0.bpmn": "no-process",
    "C.1.0.bpmn": "start-event-type",
    "C.1.1.bpmn": "start-form",
    "C.2.0.bpmn": "no-process",
    "C.3.0.bpmn": "start-event-type",
    "C.4.0.bpmn": "start-form",
    "C.5.0.bpmn": "start-form",
    "C.6.0.bpmn": "start-event-type",
    "C.7.0.bpmn": "start-form",
    "C.8.0.bpmn": "no-process",
    "C.8.1.bpmn": "start-form",
    "C.9.0.bpmn": "start-form",
    "C.9.1.bpmn": "start-form",
    "C.9.2.bpmn": "start-form",
}


def _lint_with_roles(app, data: bytes):
    from app.auth.services import ensure_builtin_roles
    from app.designer.services import lane_has_role
    from app.extensions import db

    with app.app_context():
        ensure_builtin_roles()
        try:
            return lint(data, {}, lane_role=lane_has_role)
        finally:
            db.session.rollback()


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_file_through_lint(app, path):
    data = path.read_bytes()
    began = time.perf_counter()
    report = _lint_with_roles(app, data)
    assert time.perf_counter() - began < HANG_GUARD_SECONDS
    assert not [i for i in report.issues if i.code == "internal"], report.issues
    for issue in report.issues:
        assert VIETNAMESE.search(issue.message), issue
    if report.ok:
        assert report.model is not None
        return
    located = [i for i in report.errors if i.element]
    assert located, [str(i) for i in report.errors]
    assert report.model is None
    if path.name in EXPECTED:
        assert EXPECTED[path.name] in {i.code for i in report.errors}, [str(i) for i in report.errors]


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_file_through_the_command(app, path):
    began = time.perf_counter()
    result = app.test_cli_runner().invoke(args=["workflows", "check", str(path), "--forms", str(ROOT / "forms")])
    assert time.perf_counter() - began < HANG_GUARD_SECONDS
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    report = _lint_with_roles(app, path.read_bytes())
    assert result.exit_code == (0 if report.ok else 1), result.output
    assert result.output.startswith(f"{path}: {'ĐẠT' if report.ok else 'KHÔNG ĐẠT'}")
    for issue in report.issues:  # the same messages, located the same way
        assert str(issue) in result.output


def test_corpus_is_there():
    if not CORPUS.is_dir():
        pytest.skip(f"no corpus at {CORPUS}")
    assert {p.name for p in CORPUS_FILES} == set(EXPECTED)


# --------------------------------------------------------------------------- the command on our own files


def test_check_passes_the_demo_workflows(app):
    paths = sorted(str(p) for p in (ROOT / "workflows").glob("*.bpmn"))
    result = app.test_cli_runner().invoke(args=["workflows", "check", *paths])
    assert result.exit_code == 0, result.output
    for path in paths:
        assert f"{path}: ĐẠT" in result.output


def test_check_passes_the_library_fixture_with_its_forms(app):
    result = app.test_cli_runner().invoke(args=["workflows", "check", str(FIXTURES / "cap_the_thu_vien.bpmn"),
                                                "--forms", str(FIXTURES / "forms")])
    assert result.exit_code == 0, result.output
    # without its forms folder, the forms are missing: refused, each at the element that names one
    result = app.test_cli_runner().invoke(args=["workflows", "check", str(FIXTURES / "cap_the_thu_vien.bpmn")])
    assert result.exit_code == 1
    assert "[StartEvent_nop — Nộp hồ sơ] Không tìm thấy tệp biểu mẫu 'thu_vien_nop.json'" in result.output


def test_check_refuses_every_attack_without_a_traceback(app):
    paths = sorted(str(p) for p in (FIXTURES / "attacks").glob("*.bpmn"))
    assert paths
    result = app.test_cli_runner().invoke(args=["workflows", "check", *paths])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "root:" not in result.output
    for path in paths:
        assert f"{path}: KHÔNG ĐẠT" in result.output
    assert f"{len(paths)}/{len(paths)} tệp không đạt." in result.output


def test_check_refuses_what_it_cannot_read(app, tmp_path):
    good = str(ROOT / "workflows" / "dang_ky_khai_sinh.bpmn")
    missing = str(tmp_path / "khong_co.bpmn")
    result = app.test_cli_runner().invoke(args=["workflows", "check", good, missing, str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert f"{good}: ĐẠT" in result.output
    assert f"{missing}: KHÔNG ĐẠT" in result.output and "không tìm thấy tệp" in result.output
    assert f"{tmp_path}: KHÔNG ĐẠT" in result.output
    assert "Traceback" not in result.output
    binary = tmp_path / "rac.bpmn"
    binary.write_bytes(os.urandom(4096))
    result = app.test_cli_runner().invoke(args=["workflows", "check", str(binary)])
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_check_reports_unreadable_forms(app, tmp_path):
    forms = tmp_path / "forms"
    forms.mkdir()
    for p in (FIXTURES / "forms").glob("*.json"):
        (forms / p.name).write_bytes(p.read_bytes())
    (forms / "thu_vien_xu_ly.json").write_text("{không phải JSON", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["workflows", "check", str(FIXTURES / "cap_the_thu_vien.bpmn"),
                                                "--forms", str(forms)])
    assert result.exit_code == 1
    assert "Không đọc được tệp biểu mẫu 'thu_vien_xu_ly.json'" in result.output
    assert "Traceback" not in result.output


def test_check_refuses_a_huge_file_quickly(app, tmp_path):
    huge = tmp_path / "huge.bpmn"
    with huge.open("wb") as fh:
        fh.write(b"<?xml version='1.0'?><x>")
        fh.write(b"a" * (8 * 1024 * 1024))
        fh.write(b"</x>")
    began = time.perf_counter()
    result = app.test_cli_runner().invoke(args=["workflows", "check", str(huge)])
    assert time.perf_counter() - began < 2
    assert result.exit_code == 1 and "Tệp quá lớn" in result.output


def test_check_warnings_do_not_refuse(app, tmp_path):
    xml = (FIXTURES / "cap_the_thu_vien.bpmn").read_text(encoding="utf-8").replace(' default="F4"', "").replace(
        '<bpmn:sequenceFlow id="F4" name="Từ chối" sourceRef="Decide" targetRef="Refused"/>',
        '<bpmn:sequenceFlow id="F4" name="Từ chối" sourceRef="Decide" targetRef="Refused">'
        '<bpmn:conditionExpression>decision == "refuse"</bpmn:conditionExpression></bpmn:sequenceFlow>')
    xml = xml.replace('<spiffworkflow:property name="dueInWorkingDays" value="1"/>', "").replace(
        '<spiffworkflow:property name="dossierStatus" value="10"/>',
        '<spiffworkflow:property name="dossierStatus" value="10"/>'
        '<spiffworkflow:property name="dueInWorkingDays" value="1"/>')
    path = tmp_path / "canh_bao.bpmn"
    path.write_text(xml, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["workflows", "check", str(path), "--forms", str(FIXTURES / "forms")])
    assert result.exit_code == 0, result.output
    assert f"{path}: ĐẠT — 1 cảnh báo" in result.output and "(due-days-ignored)" in result.output
    assert ERROR not in result.output.split("\n", 1)[0]
