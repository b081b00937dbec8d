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
    for group in (units_cli, users_cli, roles_cli, workflows_cli, seed_cli):
        app.cli.add_command(group)
