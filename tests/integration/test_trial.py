"""Trial runs of a draft: the path taken, the forms shown, the statuses set; nothing stored, nothing called."""

from __future__ import annotations

import html as htmllib
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.catalog.models import Procedure
from app.designer import services as designer_services
from app.dossiers.models import Attachment, Dossier, WorkflowState
from app.extensions import db
from app.inbox.models import Task

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CODE = "9.777201"
SERVICE_CODE = "9.777202"
PDF = b"%PDF-1.4\n% test\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def fixture_xml(code: str) -> str:
    return (FIXTURES / "cap_the_thu_vien.bpmn").read_text(encoding="utf-8").replace("9.999001", code)


def with_service_task(xml: str) -> str:
    """Received → a service task (send an SMS through a connector) → Process."""
    service = """<bpmn:serviceTask id="NotifySms" name="Gửi tin nhắn tiếp nhận">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="sms.send" resultVariable="sms_result">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="to" type="str" value="reader_name"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>F5</bpmn:incoming>
      <bpmn:outgoing>F5b</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="F5b" sourceRef="NotifySms" targetRef="Process"/>
"""
    xml = xml.replace('<bpmn:sequenceFlow id="F5" sourceRef="Received" targetRef="Process"/>',
                      '<bpmn:sequenceFlow id="F5" sourceRef="Received" targetRef="NotifySms"/>' + service)
    return xml.replace("<bpmn:incoming>F5</bpmn:incoming>\n      <bpmn:outgoing>F6</bpmn:outgoing>",
                       "<bpmn:incoming>F5b</bpmn:incoming>\n      <bpmn:outgoing>F6</bpmn:outgoing>")


def deploy_and_draft(app, tmp_path_factory, code: str, draft_xml: str | None = None) -> int:
    path = tmp_path_factory.mktemp("trial") / f"thu_vien_{code.replace('.', '_')}.bpmn"
    path.write_text(fixture_xml(code), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["workflows", "deploy", str(path), "--forms",
                                                str(FIXTURES / "forms"), "--unit", "000.00.00.H41"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        proc = db.session.scalar(select(Procedure).where(Procedure.code == code))
        draft = designer_services.open_draft(proc, None)
        if draft_xml is not None:
            designer_services.save_draft(draft, None, xml=draft_xml)
        db.session.commit()
        return draft.number


@pytest.fixture(scope="module")
def draft(app, tmp_path_factory) -> str:
    """Our own procedure with an open (unpublished) draft; returns the trial URL."""
    number = deploy_and_draft(app, tmp_path_factory, CODE)
    assert number == 2
    return f"/thiet-ke/{CODE}/v/{number}/chay-thu"


def login(app, username="thietke.tinh"):
    c = app.test_client()
    r = c.post("/dang-nhap", data={"username": username, "password": "MotCua@2026"})
    assert r.status_code == 302
    return c


def counts(app) -> tuple[int, ...]:
    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in
                     (Dossier, Task, Attachment, WorkflowState))


def hidden(page: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert m, f"no hidden field {name}"
    return htmllib.unescape(m.group(1))


def steps(page: str) -> str:
    m = re.search(r'<ol class="timeline trial-timeline" id="trial-steps">(.*?)</ol>', page, re.S)
    assert m, "no step list"
    return m.group(1)


def path(page: str) -> list[str]:
    """The element ids of the steps taken, in order."""
    return re.findall(r"</strong> <code>([\w-]+)</code>", steps(page))


def start(client, url, **data):
    form = {"action": "start", "trial-channel": "online", "hoso-reader_name": "Trần Thu Trang",
            "hoso-birth_date": "1995-04-12", "hoso-months": "6"}
    form.update(data)
    return client.post(url, data=form, content_type="multipart/form-data")


def complete(client, url, page: str, **data):
    form = {"action": "complete", "trial_state": hidden(page, "trial_state"), "task_id": hidden(page, "task_id")}
    form.update(data)
    return client.post(url, data=form, content_type="multipart/form-data")


def test_permissions(app, draft):
    anonymous = app.test_client().get(draft)
    assert anonymous.status_code == 302 and "/dang-nhap" in anonymous.headers["Location"]
    assert login(app, "thietke.phuong").get(draft).status_code == 403
    assert login(app, "chuyenvien.tinh").post(draft, data={"action": "start"}).status_code == 403
    assert login(app, "quantri.phuong").get(draft).status_code == 200
    # the draft's version page offers the trial run
    version_page = login(app).get(draft.rsplit("/", 1)[0]).get_data(as_text=True)
    assert f'href="{draft}"' in version_page


def test_walk_the_accept_path_to_the_end(app, draft):
    before = counts(app)
    c = login(app)
    page = c.get(draft).get_data(as_text=True)
    assert "Nộp hồ sơ (thử)" in page and 'name="hoso-reader_name"' in page and 'name="hoso-photo"' in page
    assert "Chưa có bước nào" in page and 'name="trial_state"' not in page

    # the submission form is validated by the real renderer and rules
    r = start(c, draft, **{"hoso-reader_name": "", "hoso-months": "99"})
    assert r.status_code == 422
    bad = r.get_data(as_text=True)
    assert "Có lỗi cần sửa" in bad and 'href="#hoso-reader_name"' in bad and 'href="#hoso-months"' in bad

    from io import BytesIO

    r = start(c, draft, **{"hoso-photo": (BytesIO(PDF), "anh.pdf")})
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    done = steps(page)
    assert "<code>StartEvent_nop</code>" in done and "nộp hồ sơ (thử)" in done
    assert "1 — Mới đăng ký" in done and "Trần Thu Trang" in done and "tệp anh.pdf" in done
    assert "<code>Receive</code>" in done and "chờ xử lý" in done
    assert "Bước đang chờ: Kiểm tra, tiếp nhận hồ sơ" in page
    assert "Làn: BỘ PHẬN TIẾP NHẬN VÀ TRẢ KẾT QUẢ · Vai trò xử lý: <strong>Bộ phận một cửa</strong>" in page
    assert "Thời hạn bước: 0,5 ngày làm việc" in page
    assert 'name="cv-decision"' in page and "Biểu mẫu <code>thu_vien_tiep_nhan.json</code>" in page
    assert "Thời hạn giải quyết</dt><dd>2 ngày làm việc" in page

    # reception accepts: the gateway, the milestone (status 2), the specialist's task (status 4)
    page = complete(c, draft, page, **{"cv-decision": "accept"}).get_data(as_text=True)
    done = steps(page)
    assert path(page) == ["StartEvent_nop", "Receive", "Receive", "Decide", "Received", "Process"]
    assert "Cổng rẽ nhánh (chọn một)" in done and "2 — Đã tiếp nhận" in done and "4 — Đang xử lý" in done
    assert "đã xử lý (thử)" in done and "<code>decision</code></dt><dd>accept</dd>" in done
    assert "Bước đang chờ: Xử lý, cấp thẻ" in page and "Vai trò xử lý: <strong>Chuyên viên</strong>" in page
    assert 'id="trial-status">Trạng thái hồ sơ (giả lập): <strong class="status">4 — Đang xử lý' in page

    # the specialist's form refuses a bad card number; the state is kept
    r = complete(c, draft, page, **{"cv-card_number": "123"})
    assert r.status_code == 422
    kept = r.get_data(as_text=True)
    assert "Có lỗi cần sửa" in kept and "Bước đang chờ: Xử lý, cấp thẻ" in kept
    assert hidden(kept, "trial_state") == hidden(page, "trial_state")

    page = complete(c, draft, page, **{"cv-card_number": "TV123456"}).get_data(as_text=True)
    assert "Quy trình đã kết thúc" in page and "“Đã trả kết quả”" in page
    assert "10 — Đã trả kết quả" in steps(page) and path(page)[-2:] == ["Process", "Done"]
    assert counts(app) == before  # no dossier, task, attachment or workflow state was stored


def test_the_refusal_path(app, draft):
    before = counts(app)
    c = login(app)
    page = start(c, draft).get_data(as_text=True)
    page = complete(c, draft, page, **{"cv-decision": "refuse", "cv-reception_note": "Thiếu ảnh"}).get_data(
        as_text=True)
    done = steps(page)
    assert path(page) == ["StartEvent_nop", "Receive", "Receive", "Decide", "Refused"]
    assert "3 — Không được tiếp nhận" in done and "Thiếu ảnh" in done
    assert "Quy trình đã kết thúc" in page and "Trạng thái cuối của hồ sơ: <strong>3 — Không được tiếp nhận" in page
    assert counts(app) == before


def test_tampered_or_foreign_state_is_refused(app, draft):
    c = login(app)
    page = start(c, draft).get_data(as_text=True)
    token = hidden(page, "trial_state")
    task_id = hidden(page, "task_id")
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for bad in (forged, "", "x" * 300_000, token.replace(".", "", 1)):
        r = c.post(draft, data={"action": "complete", "trial_state": bad, "task_id": task_id,
                                "cv-decision": "accept"})
        assert r.status_code == 400, bad[:20]
        error = re.search(r'id="trial-error"[^>]*>([^<]*)<', r.get_data(as_text=True))
        assert error and ("chạy lại từ đầu" in error.group(1) or "bắt đầu lại" in error.group(1)), bad[:20]
        assert 'name="hoso-reader_name"' in r.get_data(as_text=True)  # back at the submission form
    r = c.post(draft, data={"action": "complete", "trial_state": forged, "task_id": task_id, "cv-decision": "accept"})
    assert "không hợp lệ hoặc đã bị sửa đổi" in r.get_data(as_text=True)
    # a state signed for one user does not work for another (an admin here)
    r = login(app, "quantri.tinh").post(draft, data={"action": "complete", "trial_state": token, "task_id": task_id,
                                                      "cv-decision": "accept"})
    assert r.status_code == 400 and "không thuộc phiên bản này" in r.get_data(as_text=True)
    # the untouched state still works; an old page can be sent again (the back button)
    ok = c.post(draft, data={"action": "complete", "trial_state": token, "task_id": task_id, "cv-decision": "accept"})
    again = c.post(draft, data={"action": "complete", "trial_state": token, "task_id": task_id,
                                "cv-decision": "refuse"})
    assert ok.status_code == 200 and again.status_code == 200
    assert path(ok.get_data(as_text=True))[-1] == "Process"
    assert path(again.get_data(as_text=True))[-1] == "Refused"
    # a task id that is not waiting
    r = c.post(draft, data={"action": "complete", "trial_state": token, "task_id": "nope", "cv-decision": "accept"})
    assert r.status_code == 409 and "không còn chờ xử lý" in r.get_data(as_text=True)


def test_state_is_refused_when_the_draft_changes_and_lint_errors_refuse(app, draft):
    c = login(app)
    page = start(c, draft).get_data(as_text=True)
    with app.app_context():
        proc = db.session.scalar(select(Procedure).where(Procedure.code == CODE))
        version = designer_services.get_version(proc, 2)
        original = version.bpmn_xml
        designer_services.save_draft(version, None, xml=original.replace("Xử lý, cấp thẻ", "Xử lý và in thẻ"))
        db.session.commit()
    try:
        r = complete(c, draft, page, **{"cv-decision": "accept"})
        assert r.status_code == 400 and "đã thay đổi kể từ khi bắt đầu chạy thử" in r.get_data(as_text=True)
        with app.app_context():
            proc = db.session.scalar(select(Procedure).where(Procedure.code == CODE))
            version = designer_services.get_version(proc, 2)
            designer_services.save_draft(version, None, xml=original.replace('name="chuyen vien thu ly"',
                                                                             'name="Phong khong ton tai"'))
            db.session.commit()
        r = c.get(draft)
        html = r.get_data(as_text=True)
        assert r.status_code == 409 and "Chưa chạy thử được: phiên bản còn lỗi kiểm tra" in html
        assert "<code>Process</code>" in html and "không ứng với vai trò nào" in html
        assert 'name="hoso-reader_name"' not in html
    finally:
        with app.app_context():
            proc = db.session.scalar(select(Procedure).where(Procedure.code == CODE))
            designer_services.save_draft(designer_services.get_version(proc, 2), None, xml=original)
            db.session.commit()


def test_service_tasks_are_recorded_not_called(app, tmp_path_factory):
    number = deploy_and_draft(app, tmp_path_factory, SERVICE_CODE, with_service_task(fixture_xml(SERVICE_CODE)))
    url = f"/thiet-ke/{SERVICE_CODE}/v/{number}/chay-thu"
    c = login(app)
    before = counts(app)
    page = start(c, url).get_data(as_text=True)
    page = complete(c, url, page, **{"cv-decision": "accept"}).get_data(as_text=True)
    done = steps(page)
    assert path(page)[-3:] == ["Received", "NotifySms", "Process"] and "Gọi dịch vụ" in done
    assert "Sẽ gọi dịch vụ <code>sms.send</code>" in done and "Trần Thu Trang" in done
    assert "Kết quả giả lập khi chạy thử" in done
    assert "sms_result" in page  # the canned answer is in the process data gateways would read
    assert "Bước đang chờ: Xử lý, cấp thẻ" in page
    assert counts(app) == before
