"""What is counted, and when (hooked by endpoint name: the routes know nothing about it).

- ``view``: a GET of the procedure page (``web.procedure``) answered 200;
- ``start``: a GET of the submission form (``web.submit``) answered 200 (a POST with errors is not a start);
- ``submit``: a dossier committed to the database, whatever the path (web form, API, desk, inter-agency),
  counted from the ORM unit of work (``after_flush`` notes new dossiers, ``after_commit`` counts those that
  were really stored), with the dossier's own channel. Nothing to call from the services; ``count()`` exists
  for other events.
- ``abandon`` is not counted: reports derive it as starts − online submits per period.

Once per browser per procedure per day (Vietnam time): a first-party marker in Flask's signed session cookie
(``_uc``: the day and the procedure ids already counted; no identifier, no IP address, no third-party
script). Clients that do not keep cookies are counted at every visit: the bot filter is what stops them.

Bots: no User-Agent, or one matching ``BOT_PATTERN`` (bot, crawl, spider, slurp, curl, wget, python-requests,
python-urllib, httpx, aiohttp, Go-http-client, Java/, libwww, Scrapy, PhantomJS, Lighthouse, monitors,
link previews, ``headless`` but not ``HeadlessChrome``: the browser tests drive headless Chromium and must be
counted), and prefetches (``Purpose``/``Sec-Purpose: prefetch``).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from flask import Flask, Response, current_app, has_app_context, request, session
from sqlalchemy import event, inspect, select

from app.common.timefmt import VN_TZ
from app.extensions import db
from app.stats.models import START, SUBMIT, VIEW

#: endpoint → event, for GET requests answered 200
PAGE_EVENTS = {"web.procedure": VIEW, "web.submit": START}
BOT_PATTERN = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|curl|wget|python-requests|python-urllib|python-httpx|httpx|aiohttp"
    r"|go-http-client|java/|libwww|scrapy|phantomjs|lighthouse|pingdom|uptime|monitor|facebookexternalhit"
    r"|embedly|preview|headless(?!chrome)|okhttp|node-fetch|axios/|wappalyzer|zgrab|masscan|nmap",
    re.IGNORECASE)
MARKER = "_uc"
#: a session that counted more procedures than this in a day is not a person: stop counting it
MAX_PER_DAY = 100
_SHORT = {VIEW: "v", START: "s"}


def is_bot(user_agent: str | None) -> bool:
    return not user_agent or bool(BOT_PATTERN.search(user_agent))


def today() -> date:
    return datetime.now(VN_TZ).date()


def _buffer() -> Any:
    return current_app.extensions.get("usage_counters") if has_app_context() else None


def count(event_name: str, procedure_id: int, channel: str = "online", n: int = 1, day: date | None = None) -> None:
    """Count `n` events for a procedure today (Vietnam time). No-op when the app does not count usage."""
    buffer = _buffer()
    if buffer is not None and procedure_id is not None:
        buffer.add(day or today(), int(procedure_id), event_name, channel, n)


def _procedure_id(code: str) -> int | None:
    cache: dict[str, int] = current_app.extensions.setdefault("usage_counters_ids", {})
    pid = cache.get(code)
    if pid is None:
        from app.catalog.models import Procedure

        pid = db.session.scalar(select(Procedure.id).where(Procedure.code == code))
        if pid is not None and len(cache) < 10_000:
            cache[code] = pid
    return pid


def _first_today(event_name: str, procedure_id: int, day: date) -> bool:
    """True (and remembered in the session) the first time this browser does `event_name` today."""
    stamp = day.strftime("%Y%m%d")
    marker = session.get(MARKER)
    if not isinstance(marker, dict) or marker.get("d") != stamp:
        marker = {"d": stamp}
    seen = marker.get(_SHORT[event_name]) or []
    if procedure_id in seen or len(seen) >= MAX_PER_DAY:
        return False
    marker[_SHORT[event_name]] = [*seen, procedure_id]
    session[MARKER] = marker
    return True


def after_request(response: Response) -> Response:
    event_name = PAGE_EVENTS.get(request.endpoint or "")
    if event_name is None or request.method != "GET" or response.status_code != 200:
        return response
    if is_bot(request.headers.get("User-Agent")) or "prefetch" in (
            request.headers.get("Sec-Purpose", "") + request.headers.get("Purpose", "")).lower():
        return response
    code = (request.view_args or {}).get("code")
    procedure_id = _procedure_id(code) if code else None
    if procedure_id is None:
        return response
    day = today()
    if _first_today(event_name, procedure_id, day):
        count(event_name, procedure_id, "online", day=day)
    return response


# --------------------------------------------------------------------------- submits, from the unit of work

_NEW = "usage_counters_new_dossiers"


def _after_flush(session_: Any, _context: Any) -> None:
    from app.dossiers.models import Dossier

    if _buffer() is None:
        return
    new = [obj for obj in session_.new if isinstance(obj, Dossier)]
    if new:
        session_.info.setdefault(_NEW, []).extend((obj, obj.procedure_id, obj.channel) for obj in new)


def _after_commit(session_: Any) -> None:
    noted = session_.info.pop(_NEW, None)
    if not noted:
        return
    for obj, procedure_id, channel in noted:
        state = inspect(obj)
        if state.has_identity and not state.was_deleted:  # not undone by a savepoint rollback
            count(SUBMIT, procedure_id, channel or "online")


def _after_soft_rollback(session_: Any, _previous: Any) -> None:
    if not session_.in_transaction():  # the whole unit of work is gone
        session_.info.pop(_NEW, None)


def listen_for_submits() -> None:
    for name, fn in (("after_flush", _after_flush), ("after_commit", _after_commit),
                     ("after_soft_rollback", _after_soft_rollback)):
        if not event.contains(db.session, name, fn):
            event.listen(db.session, name, fn)


def install(app: Flask) -> None:
    if app.extensions.get("usage_counters_hooked"):
        return
    app.extensions["usage_counters_hooked"] = True
    app.after_request(after_request)
    listen_for_submits()
