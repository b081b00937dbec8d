"""Every public page against axe-core (WCAG 2.1 A/AA rules) in Debian's Chromium, on a 360 px phone screen:
no serious or critical violation, no sideways scrolling, under 200 KB transferred."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 360, "height": 740}
BUDGET = 200 * 1024
APPLICANT = {"name": "Võ Thị Truy Cập", "phone": "0912000111", "email": "truycap@example.vn"}


@pytest.fixture(scope="module")
def dossier(live_server) -> tuple[str, str]:
    """A submitted dossier (through the public API) for the tracking pages."""
    r = httpx.post(f"{live_server}/api/v1/dossiers", timeout=30, json={
        "procedure": "2.000815", "channel": "online", "applicant": APPLICANT,
        "data": _certified_copy_data()})
    assert r.status_code == 201, r.text
    body = r.json()
    return body["code"], body["tracking_secret"]


def _certified_copy_data() -> dict:
    import json

    for scenario in json.loads((ROOT / "tests/workflows/scenarios/chung_thuc_ban_sao.json").read_text("utf-8")):
        return scenario["submission"]
    raise AssertionError("no scenario")


def _pages(dossier: tuple[str, str]) -> list[tuple[str, str]]:
    code, secret = dossier
    pages = [("trang chủ", "/"), ("tra cứu", "/tra-cuu/"), ("đăng nhập cán bộ", "/dang-nhap"),
             ("tra cứu hồ sơ", f"/tra-cuu/{code}?mat_ma={secret}")]
    for proc in ("1.001193", "1.001612", "1.009994", "2.000815"):
        pages += [(f"thủ tục {proc}", f"/thu-tuc/{proc}"), (f"nộp hồ sơ {proc}", f"/thu-tuc/{proc}/nop-ho-so")]
    return pages


def test_public_pages_pass_axe_on_a_phone(live_server, browser, dossier):
    context = browser.new_context(viewport=PHONE, locale="vi-VN")
    problems: list[str] = []
    for label, path in _pages(dossier):
        page = context.new_page()  # a fresh page per URL: its responses alone count towards the budget
        sizes: list[int] = []
        page.on("response", lambda resp, sizes=sizes: sizes.append(len(resp.body()) if resp.ok else 0))
        response = page.goto(live_server + path)
        assert response is not None and response.ok, (label, response and response.status)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("""async () => {
            const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                           nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }""")
        for v in result:
            if v["impact"] in ("serious", "critical"):
                problems.append(f"{label} ({path}): {v['id']} [{v['impact']}] {v['help']} — {v['nodes']}")
        overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
        if overflow > 1:
            problems.append(f"{label} ({path}): scrolls sideways by {overflow}px at 360px")
        total = sum(sizes)
        if total > BUDGET:
            problems.append(f"{label} ({path}): {total // 1024} KB transferred (budget 200 KB)")
        page.close()
    context.close()
    assert not problems, "\n".join(problems)
