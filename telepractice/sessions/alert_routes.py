"""HTTP routes of safety alerts: the case's supervisor and workers poll them and acknowledge them."""

from __future__ import annotations

from aiohttp import web

from telepractice.appkeys import AUDIT, DB, KEYRING, SIGNALING
from telepractice.auth.guards import require_staff
from telepractice.errors import InvalidField
from telepractice.openapi import ApiRoutes
from telepractice.sessions.safety_alerts import acknowledge_alert, alerts_for_staff
from telepractice.storage.models import StaffRole

alert_routes = ApiRoutes("alerts")
CASE_STAFF = (StaffRole.WORKER.value, StaffRole.SUPERVISOR.value)
STATES = ("open", "all")


@alert_routes.route("GET", "/api/alerts", summary="Safety alerts of my cases, newest first (audited)", roles=CASE_STAFF,
                    responses={200: "The alerts (?state=open, the default, or all)", 422: "Bad state"})
async def get_alerts(request: web.Request) -> web.Response:
    staff = await require_staff(request, *CASE_STAFF)
    state = request.query.get("state", "open")
    if state not in STATES:
        raise InvalidField(f"'state' must be one of: {', '.join(STATES)}.", field="state")
    async with request.app[AUDIT].recording(request.app[DB]) as session:
        alerts = await alerts_for_staff(session, request.app[KEYRING], staff.staff_id, staff.role,
                                        include_acknowledged=state == "all")
        await request.app[AUDIT].append(session, actor=staff.actor, action="safety.alerts.read",
                                        target=f"staff:{staff.staff_id}", detail={"alerts": len(alerts)})
    return web.json_response({"alerts": alerts, "open": sum(1 for alert in alerts if not alert["acknowledged"])})


@alert_routes.route("POST", "/api/alerts/{alert_id}/acknowledge", summary="Acknowledge a safety alert of my cases",
                    roles=CASE_STAFF,
                    responses={200: "The alert, acknowledged", 404: "No such alert among my cases",
                               409: "Already acknowledged"})
async def post_acknowledge(request: web.Request) -> web.Response:
    staff = await require_staff(request, *CASE_STAFF)
    alert_id = request.match_info["alert_id"]
    async with request.app[AUDIT].recording(request.app[DB]) as session:
        alert = await acknowledge_alert(session, request.app[KEYRING], alert_id, staff.staff_id, staff.role)
        await request.app[AUDIT].append(session, actor=staff.actor, action="safety.alert.acknowledge",
                                        target=f"session:{alert['session_id']}", detail={"alert": alert_id})
    # Staff still in the call stop seeing it as open too.
    await request.app[SIGNALING].help_acknowledged(alert["session_id"], alert_id, staff.staff_id)
    return web.json_response(alert)
