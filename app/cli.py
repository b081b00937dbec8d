"""Command-line administration: `flask --app wsgi units|users|workflows|seed ...`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.auth import services as auth
from app.common.errors import AppError
from app.extensions import db
from app.worktime.cli import calendar_cli

units_cli = AppGroup("units", help="Đơn vị (cơ quan) xử lý hồ sơ.")
users_cli = AppGroup("users", help="Người dùng, vai trò và mã truy cập API.")
workflows_cli = AppGroup("workflows", help="Quy trình BPMN của thủ tục.")
seed_cli = AppGroup("seed", help="Dữ liệu mẫu.")
roles_cli = AppGroup("roles", help="Vai trò và tên làn (lane) ứng với vai trò.")


def _fail(message: str) -> None:
    db.session.rollback()
    click.echo(f"Lỗi: {message}", err=True)
    sys.exit(1)


@units_cli.command("create")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--phone")
@click.option("--email")
@click.option("--address")
def units_create(code: str, name: str, phone: str | None, email: str | None, address: str | None) -> None:
    """Create a unit with its agency code, e.g. 000.00.00.H41."""
    try:
        auth.ensure_builtin_roles()
        unit = auth.create_unit(code, name, phone=phone, email=email, address=address)
        db.session.commit()
    except AppError as exc:
        _fail(exc.message)
        return
    click.echo(f"Đã tạo đơn vị {unit.code} — {unit.name}")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="role code; repeat for several roles")
@click.option("--unit", "unit_code", required=True)
@click.option("--password")
@click.option("--name", "full_name", default="")
@click.option("--email")
def users_create(username: str, roles: tuple[str, ...], unit_code: str, password: str | None,
                 full_name: str, email: str | None) -> None:
    """Create a user (or add roles to an existing one) in a unit."""
    try:
        auth.ensure_builtin_roles()
        user = auth.create_user(username, password=password, full_name=full_name, email=email)
        for role in roles:
            auth.grant(user, role, unit_code)
        db.session.commit()
    except AppError as exc:
        _fail(exc.message)
        return
    click.echo(f"Người dùng {username}: {', '.join(roles)} tại {unit_code}")


@users_cli.command("token")
@click.argument("username")
def users_token(username: str) -> None:
    """Print a new API token for the user (its last line is the token)."""
    from sqlalchemy import select

    from app.auth.models import User

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        _fail(f"Không có người dùng '{username}'.")
        return
    token = auth.issue_token(user)
    db.session.commit()
    click.echo(f"Mã truy cập mới của {username} (chỉ hiển thị một lần):")
    click.echo(token)


@workflows_cli.command("deploy")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--forms", "forms_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--unit", "unit_code")
def workflows_deploy(paths: tuple[str, ...], forms_dir: str | None, unit_code: str | None) -> None:
    """Register and publish a new version of the procedure each BPMN file defines."""
    from app.catalog.services import deploy_file

    failed = False
    for path in paths:
        try:
            auth.ensure_builtin_roles()
            version = deploy_file(path, forms_dir=forms_dir or current_app.config["FORMS_DIR"], unit=unit_code)
            db.session.commit()
            click.echo(f"{path}: đã xuất bản {version.procedure.code} phiên bản {version.number}")
        except AppError as exc:
            db.session.rollback()
            failed = True
            click.echo(f"{path}: KHÔNG triển khai được", err=True)
            for p in exc.details or [{"element": "", "message": exc.message}]:
                click.echo(f"  - [{p.get('element') or '-'}] {p['message']}", err=True)
    if failed:
        sys.exit(1)


@workflows_cli.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--forms", "forms_dir", type=click.Path(),
              help="thư mục biểu mẫu (mặc định: FORMS_DIR của ứng dụng)")
def workflows_check(paths: tuple[str, ...], forms_dir: str | None) -> None:
    """Lint BPMN files with their forms, as publishing would: exit 0 when every file passes (warnings
    allowed), 1 when any is refused. Changes nothing."""
    import json

    from app.designer.lint import ERROR, MAX_BYTES, Issue, form_references, lint
    from app.designer.services import MAX_FORM_BYTES, lane_has_role

    base = Path(forms_dir or current_app.config["FORMS_DIR"])
    lane_role = None
    try:
        auth.ensure_builtin_roles()
        lane_role = lane_has_role
    except Exception as exc:  # no database: the lane rule needs the installation's roles
        db.session.rollback()
        click.echo(f"Cảnh báo: không đọc được vai trò của hệ thống ({type(exc).__name__}); "
                   "bỏ qua kiểm tra làn ↔ vai trò.")
    refused = 0
    for path in paths:
        issues: list[Issue] = []
        try:
            try:
                with open(path, "rb") as fh:
                    data = fh.read(MAX_BYTES + 1)  # lint refuses anything longer without reading it all
            except FileNotFoundError:
                raise ValueError("không tìm thấy tệp") from None
            except PermissionError:
                raise ValueError("không có quyền đọc tệp") from None
            except OSError as exc:
                raise ValueError(exc.strerror or type(exc).__name__) from None
            forms: dict[str, object] = {}
            for name in form_references(data):
                form_path = base / name
                if Path(name).name != name or not form_path.is_file():
                    continue  # lint names the element that wants it
                try:
                    if form_path.stat().st_size > MAX_FORM_BYTES:
                        raise ValueError(f"lớn hơn {MAX_FORM_BYTES // 1024} KB")
                    forms[name] = json.loads(form_path.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    issues.append(Issue(ERROR, "form-unreadable", f"Không đọc được tệp biểu mẫu '{name}': {exc}",
                                        name))
            report = lint(data, forms, lane_role=lane_role)
            issues.extend(report.issues)
        except ValueError as exc:
            issues.append(Issue(ERROR, "unreadable", f"Không đọc được tệp: {exc}."))
        except Exception as exc:  # anything else: refused, never a traceback
            issues.append(Issue(ERROR, "unreadable", f"Không kiểm tra được tệp: {type(exc).__name__}: {exc}"))
        errors = sum(1 for i in issues if i.level == ERROR)
        warnings = len(issues) - errors
        if errors:
            refused += 1
            click.echo(f"{path}: KHÔNG ĐẠT — {errors} lỗi, {warnings} cảnh báo")
        else:
            click.echo(f"{path}: ĐẠT" + (f" — {warnings} cảnh báo" if warnings else ""))
        for issue in issues:
            click.echo(f"  - {issue} ({issue.code})")
    db.session.rollback()
    if refused:
        click.echo(f"{refused}/{len(paths)} tệp không đạt.")
        sys.exit(1)


@roles_cli.command("list")
def roles_list() -> None:
    """Roles with the lane names that map to them."""
    from sqlalchemy import select

    from app.auth.models import Role

    auth.ensure_builtin_roles()
    db.session.commit()
    for role in db.session.scalars(select(Role).order_by(Role.id)):
        click.echo(f"{role.code}\t{role.name}\t" + "; ".join(a.alias for a in role.aliases))


@roles_cli.command("alias")
@click.argument("role_code")
@click.argument("alias")
def roles_alias(role_code: str, alias: str) -> None:
    """Let lanes named ALIAS (case and diacritics ignored) map to ROLE_CODE."""
    try:
        auth.ensure_builtin_roles()
        auth.add_alias(auth.get_role(role_code), alias)
        db.session.commit()
    except AppError as exc:
        _fail(exc.message)
        return
    click.echo(f"Làn “{alias}” → vai trò {role_code}")


@seed_cli.command("demo")
def seed_demo() -> None:
    """Demo agencies, users in every role, and the procedures in workflows/."""
    from app.seed import seed_demo as run

    for line in run(Path(current_app.config["WORKFLOWS_DIR"]), Path(current_app.config["FORMS_DIR"])):
        click.echo(line)
    db.session.commit()


def register(app: Flask) -> None:
    for group in (units_cli, users_cli, roles_cli, workflows_cli, seed_cli, calendar_cli, jobs_cli, outbox_cli):
        app.cli.add_command(group)


jobs_cli = AppGroup("jobs", help="Bộ lập lịch: hẹn giờ BPMN (nhắc việc, chuyển cấp).")


@jobs_cli.command("run")
@click.option("--interval", type=float, default=None, help="seconds between polls (default 2)")
def jobs_run(interval: float | None) -> None:
    """Run the one scheduler process (fires due BPMN timers) until stopped."""
    import logging

    from app.jobs import scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("apscheduler", "httpx"):  # not a line per poll
        logging.getLogger(noisy).setLevel(logging.WARNING)
    click.echo("Bộ lập lịch đang chạy (Ctrl+C để dừng).")
    scheduler.run(current_app._get_current_object(), interval=interval)  # type: ignore[attr-defined]


@jobs_cli.command("run-due")
def jobs_run_due() -> None:
    """Fire the timers due now, once."""
    from app.jobs import run_due

    fired = run_due()
    click.echo(f"Đã kích hoạt {len(fired)} hẹn giờ.")


@jobs_cli.command("status")
def jobs_status() -> None:
    """The scheduler's heartbeat and the number of pending timers."""
    from sqlalchemy import func, select

    from app.jobs import heartbeat
    from app.jobs.models import PENDING, Timer

    beat = heartbeat()
    pending = db.session.scalar(select(func.count()).select_from(Timer).where(Timer.state == PENDING))
    if beat is None:
        click.echo("Bộ lập lịch chưa chạy.")
    else:
        click.echo(f"Nhịp tim: {beat['beat_at'].isoformat()} ({beat['age_seconds']:.0f} giây trước), "
                   f"tiến trình {beat['holder']}, đã kích hoạt {beat['fired_total']}")
    click.echo(f"Hẹn giờ đang chờ: {pending}")


outbox_cli = AppGroup("outbox", help="Hộp thư đi: thông điệp gửi đối tác.")


@outbox_cli.command("deliver")
@click.option("--worker", default=None, help="worker name (default host:pid)")
def outbox_deliver(worker: str | None) -> None:
    """Deliver every message due now, once (the scheduler does this continuously)."""
    from app.jobs.timers import worker_id
    from app.outbox.services import deliver_due

    totals: dict[str, int] = {}
    while True:
        counts = deliver_due(worker or worker_id())
        if not counts:
            break
        for k, v in counts.items():
            totals[k] = totals.get(k, 0) + v
    click.echo(", ".join(f"{k}: {v}" for k, v in sorted(totals.items())) or "Không có thông điệp nào đến hạn.")


@outbox_cli.command("status")
def outbox_status() -> None:
    """Messages per state."""
    from app.outbox.services import summary

    for state, n in summary().items():
        click.echo(f"{state}: {n}")
