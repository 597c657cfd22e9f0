"""Hand-made articles and positions for the briefing, card, command and terminal tests.

Four articles, each position chosen for one rule: contested across parties (security
guarantee), hesitation within one party (EU membership: Ukraine seeks and doubts), the party
speaking as itself ("russia" as actor), and an article written to break mrkdwn.
"""

from __future__ import annotations

from datetime import date

from bot.models import Article, Position
from bot.store import Store
from bot.vocabulary import Guarantee, Stance

G = Guarantee
S = Stance
HOSTILE_EVIDENCE = "Trump said <!channel> <@U123> <http://x|y> & backs troops"
HOSTILE_OUTLET = "<!here> News"
HOSTILE_URL = "https://evil.example/a|b>c"

ARTICLES: list[tuple[Article, list[Position]]] = [
    (
        Article("a1", "Kyiv asks", "Kyiv asks for guarantees. " * 3, "https://a.example/1",
                "Outlet A", date(2025, 2, 1)),
        [
            Position("volodymyr-zelensky", "ukr", S.SEEKS, G.SECURITY_GUARANTEE, "usa", "ukr",
                     "Zelensky asked for security guarantees."),
            Position("ukrainian-officials", "ukr", S.SEEKS, G.SECURITY_GUARANTEE, "usa", "ukr",
                     "Ukrainian officials want a backstop."),
            Position("donald-trump", "usa", S.OPPOSES, G.SECURITY_GUARANTEE, "usa", "ukr",
                     "Trump will not give security guarantees."),
        ],
    ),
    (
        Article("a2", "London plans", "London plans a force. " * 3, "https://b.example/2",
                "Outlet B", date(2025, 3, 1)),
        [
            Position("keir-starmer", "gbr", S.BACKS, G.PEACEKEEPING_FORCE, "gbr", "ukr",
                     "Starmer is ready to put boots on the ground."),
            Position("russia", "rus", S.OPPOSES, G.PEACEKEEPING_FORCE, "gbr", "ukr",
                     "Moscow rejects any Western troops."),
            Position("donald-trump", "usa", S.BACKS, G.AIR_SEA_PROTECTION, "usa", "ukr",
                     "Trump may provide air support."),
        ],
    ),
    (
        Article("a3", "Membership", "Membership talk. " * 5, "https://c.example/3",
                "Outlet C", date(2025, 4, 1)),
        [
            Position("ukraine", "ukr", S.SEEKS, G.NATO_MEMBERSHIP, "nato", "ukr",
                     "Ukraine still seeks NATO membership."),
            Position("russia", "rus", S.OPPOSES, G.NATO_MEMBERSHIP, "nato", "ukr",
                     "Russia rules out NATO membership for Ukraine."),
            Position("volodymyr-zelensky", "ukr", S.SEEKS, G.EU_MEMBERSHIP, "eu", "ukr",
                     "Zelensky wants EU accession by 2027."),
            Position("ukrainian-officials", "ukr", S.DOUBTS, G.EU_MEMBERSHIP, "eu", "ukr",
                     "Officials doubt the date will hold."),
        ],
    ),
    (
        Article("a4", "Hostile <b>", "Hostile text. " * 5, HOSTILE_URL, HOSTILE_OUTLET,
                date(2025, 5, 1)),
        [
            Position("donald-trump", "usa", S.BACKS, G.PEACEKEEPING_FORCE, "europe", "ukr",
                     HOSTILE_EVIDENCE),
        ],
    ),
]


async def fill(store: Store) -> None:
    for article, positions in ARTICLES:
        await store.add_article(article)
        await store.save_positions(article.id, positions, "hand", "1")
