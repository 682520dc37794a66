"""HTTP routes of staff logins (login, refresh, logout, me) and of staff administration."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from telepractice.appkeys import AUDIT, DB, SETTINGS, SIGNING_KEYS
from telepractice.auth.guards import require_staff
from telepractice.auth.logins import StaffLogins
from telepractice.auth.passwords import MAX_PASSWORD_LENGTH
from telepractice.auth.staff import add_staff, disable_staff_by_id, list_staff, staff_view
from telepractice.errors import Conflict, NotAuthenticated
from telepractice.http import read_json
from telepractice.openapi import ApiRoutes
from telepractice.storage.models import StaffMember, StaffRole
from telepractice.validation import Field, Schema

auth_routes = ApiRoutes("auth")
staff_routes = ApiRoutes("staff")

ANY_STAFF = tuple(role.value for role in StaffRole)
ADMIN = (StaffRole.ADMIN.value,)

LOGIN = Schema(
    "Login",
    Field("username", max_length=64),
    Field("password", max_length=MAX_PASSWORD_LENGTH, secret=True),
)
REFRESH = Schema("Refresh", Field("refresh_token", max_length=128, secret=True))
NEW_STAFF = Schema(
    "NewStaff",
    Field("username", min_length=3, max_length=64, description="Lower-case letters, digits, '.', '_' or '-'"),
    Field("display_name", max_length=200),
    Field("role", choices=ANY_STAFF),
    Field("password", min_length=12, max_length=MAX_PASSWORD_LENGTH, secret=True),
)


def client_address(request: web.Request) -> str:
    """The peer's address; behind our own proxy, the address that proxy saw (the last X-Forwarded-For entry)."""
    if request.app[SETTINGS].behind_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "").rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass
    return request.remote or "unknown"


def _logins(request: web.Request) -> StaffLogins:
    app = request.app
    return StaffLogins(app[DB], app[AUDIT], app[SIGNING_KEYS], app[SETTINGS])


@auth_routes.route("POST", "/api/auth/login", summary="Log in with user name and password", body=LOGIN,
                   responses={200: "Access and refresh tokens", 401: "Wrong user name or password, or disabled",
                              429: "Too many failed attempts; see Retry-After"})
async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LOGIN)
    pair = await _logins(request).login(body["username"], body["password"], client_address(request))
    return web.json_response(pair.to_json())


@auth_routes.route("POST", "/api/auth/refresh", summary="Trade a refresh token (once) for a new token pair",
                   body=REFRESH, responses={200: "Access and refresh tokens", 401: "Not valid, reused, or login ended"})
async def refresh(request: web.Request) -> web.Response:
    body = await read_json(request, REFRESH)
    pair = await _logins(request).refresh(body["refresh_token"])
    return web.json_response(pair.to_json())


@auth_routes.route("POST", "/api/auth/logout", summary="End this login; its tokens stop working at once",
                   roles=ANY_STAFF, responses={204: "Logged out"})
async def logout(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    await _logins(request).logout(staff.staff_id, staff.login_id)
    return web.Response(status=204)


@auth_routes.route("GET", "/api/me", summary="The staff member logged in", roles=ANY_STAFF)
async def me(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    async with request.app[DB]() as session:
        member = await session.get(StaffMember, staff.staff_id)
    if member is None:
        raise NotAuthenticated("The token names an account this server does not have.")
    return web.json_response(
        {"id": member.id, "username": member.username, "display_name": member.display_name, "role": member.role}
    )


@staff_routes.route("GET", "/api/staff", summary="Every staff account", roles=ADMIN)
async def staff_list(request: web.Request) -> web.Response:
    await require_staff(request, *ADMIN)
    return web.json_response({"staff": [staff_view(member) for member in await list_staff(request.app[DB])]})


@staff_routes.route("POST", "/api/staff", summary="Add a staff account", body=NEW_STAFF, roles=ADMIN,
                    responses={201: "Created", 409: "User name taken"})
async def staff_add(request: web.Request) -> web.Response:
    admin = await require_staff(request, *ADMIN)
    body = await read_json(request, NEW_STAFF)
    member = await add_staff(request.app[DB], request.app[AUDIT], actor=admin.actor, **body)
    return web.json_response(staff_view(member), status=201)


@staff_routes.route("POST", "/api/staff/{staff_id}/disable", summary="Disable an account and end its logins",
                    roles=ADMIN, responses={200: "Disabled", 404: "No such account", 409: "Your own account"})
async def staff_disable(request: web.Request) -> web.Response:
    admin = await require_staff(request, *ADMIN)
    staff_id = request.match_info["staff_id"]
    if staff_id == admin.staff_id:
        raise Conflict("You cannot disable your own account; ask another administrator.")
    member = await disable_staff_by_id(request.app[DB], request.app[AUDIT], staff_id, admin.actor)
    return web.json_response(staff_view(member))
