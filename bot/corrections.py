"""Analysts correct positions from Slack; corrections become gold for the extractor.

Who may correct is `CORRECTORS`: `members` (anyone who can click the card) or `admins`
(`ADMIN_USER_IDS`). The store keys each correction to the workspace and the extracted tuple
(article, evidence sentence, party, stance, guarantee), so it holds across re-ingesting and
re-extraction and is seen by its own workspace only; see `bot.store.corrections`. The team is
the one the request was authorised for (`correction_team`): with OAuth, a user can neither
see, make nor undo another workspace's corrections.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from typing import IO, TYPE_CHECKING, Any

from bot.cards.corrections import (
    CorrectionChoice,
    correction_modal,
    parse_choice,
)
from bot.query import UserError
from bot.store.corrections import Correction, CorrectionError, CorrectionKind, correction_team
from bot.topics import party_label
from bot.vocabulary import Stance, parties

if TYPE_CHECKING:
    from bot.services import Services
    from bot.settings import Settings
    from bot.store import Store

log = logging.getLogger(__name__)

REFUSAL = (
    "Only admins can correct positions here. An operator can add your Slack user id to"
    " `ADMIN_USER_IDS`, or set `CORRECTORS=members`."
)
_KINDS = {
    "stance": CorrectionKind.STANCE,
    "party": CorrectionKind.PARTY,
    "none": CorrectionKind.NOT_POSITION,
}


def may_correct(settings: Settings, user_id: str | None) -> bool:
    if not user_id:
        return False
    if settings.correctors == "members":
        return True
    return user_id in settings.admin_user_ids


def team_of(services: Services, team_id: str | None) -> str:
    """The team a request's corrections are kept under."""
    return correction_team(services.settings.oauth, team_id)


async def reading_team(services: Services, team_id: str | None) -> str | None:
    """`PositionFilter.team` for a request from this workspace: the workspace when it has
    corrections, else None (the shared corpus and its shared cached cards)."""
    return await services.store.overlay_team(team_of(services, team_id))


async def warn_unread_corrections(settings: Settings, store: Store) -> int:
    """With OAuth, corrections made before they were kept per workspace (team `""`) are read
    by no request: say so once at start, with how to take them out. Returns how many."""
    if not settings.oauth:
        return 0
    count = len(await store.corrections(team=""))
    if count:
        log.warning(
            "%d active correction(s) from before per-workspace corrections sit under the"
            " single workspace (team \"\"), which no OAuth workspace reads; export them with"
            " `python -m bot export --corrections FILE --team ''`",
            count,
        )
    return count


def choice_of(value: str) -> CorrectionChoice:
    try:
        return parse_choice(value)
    except ValueError:
        raise UserError("That menu is out of date.") from None


async def correction_form(
    services: Services, choice: CorrectionChoice, metadata: dict[str, Any],
    team_id: str | None = None,
) -> dict[str, Any]:
    """The modal for a correction of one position as the workspace sees it. Raises
    `UserError` when the position is gone (an extractor or another analyst replaced it
    meanwhile) or is not this workspace's."""
    found = await services.store.positions_by_ids(
        [choice.position_id], team=team_of(services, team_id)
    )
    if not found:
        raise UserError("That position has changed since the card was drawn: ask again.")
    position = found[0]
    metadata = {**metadata, "p": choice.position_id, "k": choice.op}
    return correction_modal(
        choice, position, party_label(position.party), list(parties().values()), metadata
    )


async def submit_correction(
    services: Services,
    user_id: str | None,
    choice: CorrectionChoice,
    value: str | None,
    note: str | None,
    team_id: str | None = None,
) -> str:
    """Store a correction; returns the line to tell the analyst. Raises `UserError`."""
    if not may_correct(services.settings, user_id):
        raise UserError(REFUSAL)
    assert user_id is not None
    kind = _KINDS.get(choice.op)
    if kind is None:
        raise UserError("That menu is out of date.")
    new_stance: Stance | None = None
    new_party: str | None = None
    if kind is CorrectionKind.STANCE:
        try:
            new_stance = Stance(value or "")
        except ValueError:
            raise UserError("Choose one of the four stances.") from None
    elif kind is CorrectionKind.PARTY:
        if not value or value not in parties():
            raise UserError("Choose a party from the list.")
        new_party = value
    try:
        result = await services.store.correct_position(
            choice.position_id, kind, user_id=user_id, team=team_of(services, team_id),
            new_stance=new_stance, new_party=new_party, note=note,
        )
    except CorrectionError as exc:
        raise UserError(str(exc)) from None
    log.info("correction %s (%s) by %s", result.correction.id, kind, user_id)
    return describe(result.correction, done=result.positions > 0)


async def undo(
    services: Services, user_id: str | None, position_id: int, team_id: str | None = None
) -> str:
    if not may_correct(services.settings, user_id):
        raise UserError(REFUSAL)
    assert user_id is not None
    correction = await services.store.undo_correction(
        position_id, user_id=user_id, team=team_of(services, team_id)
    )
    if correction is None:
        raise UserError("That position carries no correction to undo.")
    log.info("correction %s undone by %s", correction.id, user_id)
    return (
        f"Undone: {party_label(correction.party)} {correction.stance} on"
        f" {correction.guarantee} is back as the extractor found it."
    )


def describe(correction: Correction, *, done: bool = True) -> str:
    was = f"{party_label(correction.party)} {correction.stance}"
    if not done and correction.undone_at is not None:
        return f"Back as the extractor found it: {was}."
    if correction.kind is CorrectionKind.NOT_POSITION:
        return f"Saved: “{was}” is not a position; it is left out everywhere."
    now = f"{party_label(correction.corrected_party)} {correction.corrected_stance}"
    return f"Saved: {was} → *{now}*. It is marked “checked by an analyst”."


async def write_gold(store: Store, out: IO[str], team: str | None = "") -> int:
    """A workspace's active corrections (`team`: `""` the single workspace, None every
    workspace's, each record saying whose) in the gold format of vocabulary.md, one article a
    line per workspace; returns how many records were written.

    `positions` holds the corrected positions (what analysts say the sentence holds);
    `rejected` the tuples they marked "not a position". Only checked positions are listed,
    so a file is partial gold: score an extractor on these tuples, not on whole articles.
    """
    by_article: dict[tuple[str, str], list[Correction]] = defaultdict(list)
    for correction in await store.corrections(team=team):
        by_article[(correction.team, correction.article_key)].append(correction)
    written = 0
    for (team_id, key), corrections in by_article.items():
        article = await store.get_article(key)
        if article is None:
            continue
        positions: list[dict[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        for correction in corrections:
            ids = await store.corrected_positions(correction.id)
            stored = await store.positions_by_ids(ids, team=team_id)
            if correction.kind is CorrectionKind.NOT_POSITION or not stored:
                rejected.append(
                    {
                        "party": correction.party,
                        "stance": str(correction.stance),
                        "guarantee": str(correction.guarantee),
                        "checked_by": correction.user_id,
                        "note": correction.note,
                    }
                )
                continue
            for position in stored:
                positions.append(
                    {
                        "actor": position.actor,
                        "party": position.party,
                        "stance": str(position.stance),
                        "guarantee": str(position.guarantee),
                        "guarantor": position.guarantor,
                        "beneficiary": position.beneficiary,
                        "evidence": position.evidence,
                        "also": [],
                        "checked_by": correction.user_id,
                        "note": correction.note,
                    }
                )
        record = {
            "id": article.id,
            "url": article.url,
            "title": article.title,
            "published": article.published.isoformat() if article.published else None,
            "source": article.outlet or article.source,
            "text": article.text,
            "positions": positions,
            "rejected": rejected,
            "team": team_id,
        }
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        written += 1
    return written
