"""The officials' API beyond tasks: notes on a dossier and the leader's assignment."""

from __future__ import annotations

import base64

import pytest

PDF = b"%PDF-1.4\n% test\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _library(library_procedure):
    return library_procedure


def submit(client) -> str:
    r = client.post("/api/v1/dossiers", json={
        "procedure": "9.999001", "channel": "online", "applicant": {"name": "Võ Thị Sáu", "phone": "0912345678"},
        "data": {"reader_name": "Võ Thị Sáu", "birth_date": "2001-05-20", "card_type": "thuong", "months": 12}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["code"]


def test_notes_through_the_api(client, auth):
    code = submit(client)
    url = f"/api/v1/dossiers/{code}/notes"
    assert client.get(url, headers=auth("tiepnhan.tinh")).get_json() == {"items": [], "next_cursor": None}
    empty = client.post(url, json={"text": "  "}, headers=auth("tiepnhan.tinh"))
    assert empty.status_code == 422 and "text" in empty.get_json()["error"]["details"]
    bad_file = client.post(url, json={"text": "Kèm tệp", "files": ["không phải data URL"]},
                           headers=auth("tiepnhan.tinh"))
    assert bad_file.status_code == 422
    pdf = f"data:application/pdf;name=ket_qua.pdf;base64,{base64.b64encode(PDF).decode()}"
    r = client.post(url, json={"text": "Đã gọi điện hẹn công dân bổ sung ảnh.", "files": [pdf]},
                    headers=auth("tiepnhan.tinh"))
    assert r.status_code == 201, r.get_json()
    note = r.get_json()
    assert note["author"] == "tiepnhan.tinh" and note["text"] == "Đã gọi điện hẹn công dân bổ sung ảnh."
    assert len(note["attachment_ids"]) == 1
    assert client.get(url, headers=auth("lanhdao.tinh")).get_json()["items"] == [note]
    assert client.get(url, headers=auth("tiepnhan.phuong")).status_code == 403
    assert client.post(url, json={"text": "x"}).status_code == 401
    # never on the public tracking answer
    assert "notes" not in client.get(f"/api/v1/tracking/{code}?secret=nope").get_data(as_text=True)


def test_leaders_assign_through_the_api(client, auth):
    code = submit(client)
    items = client.get("/api/v1/tasks?scope=queue", headers=auth("lanhdao.tinh")).get_json()["items"]
    task = next(t for t in items if t["dossier_code"] == code)
    url = f"/api/v1/tasks/{task['id']}/assign"
    assert client.post(url, json={"assignee": "tiepnhan.tinh"}, headers=auth("chuyenvien.tinh")).status_code == 403
    assert client.post(url, json={}, headers=auth("lanhdao.tinh")).status_code == 422
    wrong = client.post(url, json={"assignee": "chuyenvien.tinh"}, headers=auth("lanhdao.tinh"))
    assert wrong.status_code == 422 and "assignee" in wrong.get_json()["error"]["details"]
    r = client.post(url, json={"assignee": "tiepnhan.tinh"}, headers=auth("lanhdao.tinh"))
    assert r.status_code == 200 and r.get_json()["assignee"] == "tiepnhan.tinh"
    mine = client.get("/api/v1/tasks?scope=mine", headers=auth("tiepnhan.tinh")).get_json()["items"]
    assert [t["id"] for t in mine if t["dossier_code"] == code] == [task["id"]]
