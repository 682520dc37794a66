"""HTTP routes of the family's evaluation: its questions, and the answers, authenticated by the family's own token."""

from __future__ import annotations

from aiohttp import web

from telepractice.appkeys import AUDIT, DB, KEYRING, SETTINGS, SIGNING_KEYS
from telepractice.errors import InvalidField, NotAuthenticated
from telepractice.http import read_json
from telepractice.openapi import ApiRoutes
from telepractice.sessions.evaluations import (
    LANGUAGES,
    MAX_COMMENT_CHARS,
    QUESTIONS,
    Answers,
    answer_evaluation,
    evaluator_of,
)
from telepractice.validation import Field, Schema

evaluation_routes = ApiRoutes("evaluation")
_SCORE = {"type": int, "minimum": 1, "maximum": 5}
EVALUATION = Schema(
    "EvaluationAnswers",
    Field("usefulness", description="How useful the session was, 1 to 5", **_SCORE),  # type: ignore[arg-type]
    Field("comfort", description="How comfortable the person felt, 1 to 5", **_SCORE),  # type: ignore[arg-type]
    Field("comment", required=False, nullable=True, min_length=0, max_length=MAX_COMMENT_CHARS,
          description="A free comment; encrypted with the case key"),
    Field("language", required=False, choices=LANGUAGES, description="The language the questions were shown in"),
    Field("session", required=False, max_length=64, description="The session answered for; must be the token's"),
    Field("token", required=False, max_length=4096, secret=True,
          description="The join or resume token, unless it is in the Authorization header"),
)


def _token(request: web.Request, body: dict[str, object]) -> str:
    """The family's token, from the body or the Authorization header; never from the URL."""
    header = request.headers.get("Authorization", "")
    scheme, _, from_header = header.strip().partition(" ")
    token = body.get("token") or (from_header.strip() if scheme.lower() == "bearer" else "")
    if not isinstance(token, str) or not token:
        raise NotAuthenticated("Send the join or resume token in the body ('token') or as a bearer token.")
    return token


@evaluation_routes.route("GET", "/api/join/evaluation/questions", summary="The evaluation's three questions (?language=pt|en)",
                         responses={200: "The questions", 422: "Unknown language"})
async def get_questions(request: web.Request) -> web.Response:
    language = request.query.get("language", "pt")
    if language not in LANGUAGES:
        raise InvalidField(f"'language' must be one of: {', '.join(LANGUAGES)}.", field="language")
    return web.json_response({"language": language, "questions": QUESTIONS[language],
                              "max_comment_chars": MAX_COMMENT_CHARS})


@evaluation_routes.route(
    "POST", "/api/join/evaluation", summary="A family member answers the evaluation of their session, once",
    body=EVALUATION,
    responses={201: "Answers kept", 401: "Missing, forged or revoked token", 403: "Not a participant, or another session",
               409: "Already answered, or the session is still going on for them", 410: "The 24-hour window has closed"},
)
async def post_evaluation(request: web.Request) -> web.Response:
    body = await read_json(request, EVALUATION)
    app = request.app
    evaluator, invite_id = evaluator_of(app[SIGNING_KEYS], app[SETTINGS], _token(request, body))
    comment = body.get("comment")
    answers = Answers(body["usefulness"], body["comfort"], comment if isinstance(comment, str) else None,
                      body.get("language"))
    result = await answer_evaluation(app[DB], app[KEYRING], app[AUDIT], evaluator, invite_id, answers,
                                     session_id=body.get("session"))
    return web.json_response(result, status=201)
