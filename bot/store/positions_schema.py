"""The SQL that builds the position tables: articles, sentences, actors, positions, and the
summaries the cards read, with the triggers that keep those current.

`topic_summary` folds positions into one row per (topic, guarantee, stance, party, actor),
where a topic is '*' or a party involved in the position; `topic_articles` counts the articles
behind each topic. Triggers keep both current in the same transaction as every insert and
delete, so the briefing card reads a few hundred rows whatever the number of positions.
Every statement is written once for SQLite and PostgreSQL (see `bot.store.dialect`).
"""

from __future__ import annotations

MIGRATIONS = [
    (
        "positions-1",
        """
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            url TEXT UNIQUE,
            guid TEXT UNIQUE,
            title TEXT NOT NULL,
            outlet TEXT,
            published TEXT,
            text_hash TEXT NOT NULL UNIQUE,
            body BLOB NOT NULL,
            source TEXT,
            cluster_id INTEGER,
            added_at TEXT NOT NULL
        );
        CREATE INDEX articles_cluster ON articles (cluster_id);
        CREATE TABLE sentences (
            id INTEGER PRIMARY KEY,
            hash INTEGER NOT NULL UNIQUE,
            text TEXT NOT NULL
        );
        CREATE TABLE actors (
            id INTEGER PRIMARY KEY,
            slug TEXT NOT NULL UNIQUE,
            party TEXT NOT NULL
        );
        CREATE TABLE extractions (
            article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
            extractor TEXT NOT NULL,
            version TEXT NOT NULL,
            extracted_at TEXT NOT NULL,
            PRIMARY KEY (article_id, extractor)
        ) WITHOUT ROWID;
        CREATE TABLE positions (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
            sentence_id INTEGER NOT NULL REFERENCES sentences (id),
            actor_id INTEGER NOT NULL REFERENCES actors (id),
            party TEXT NOT NULL,
            stance TEXT NOT NULL,
            guarantee TEXT NOT NULL,
            guarantor TEXT,
            beneficiary TEXT,
            published TEXT,
            added_at TEXT NOT NULL,
            extractor TEXT NOT NULL,
            extractor_version TEXT NOT NULL
        );
        CREATE INDEX positions_article ON positions (article_id);
        CREATE INDEX positions_guarantee_fresh ON positions (guarantee, published);
        CREATE INDEX positions_party ON positions (party, guarantee);
        CREATE INDEX positions_key ON positions (actor_id, guarantee, stance, published);
        CREATE INDEX positions_added ON positions (added_at);
        -- One row per (topic, guarantee, stance, party, actor): the topic is '*' (every
        -- position) or a party involved as holder, guarantor or beneficiary. The card reads
        -- only these rows, so it stays fast whatever the number of positions.
        CREATE TABLE topic_summary (
            topic TEXT NOT NULL,
            guarantee TEXT NOT NULL,
            stance TEXT NOT NULL,
            party TEXT NOT NULL,
            actor_id INTEGER NOT NULL,
            positions INTEGER NOT NULL,
            latest_published TEXT NOT NULL,
            latest_position_id INTEGER NOT NULL,
            PRIMARY KEY (topic, guarantee, stance, party, actor_id)
        ) WITHOUT ROWID;
        CREATE INDEX topic_summary_actor ON topic_summary (actor_id, topic);
        -- Which articles each topic draws on, with a reference count of positions.
        CREATE TABLE topic_articles (
            topic TEXT NOT NULL,
            article_id INTEGER NOT NULL,
            positions INTEGER NOT NULL,
            PRIMARY KEY (topic, article_id)
        ) WITHOUT ROWID;
        CREATE TABLE topic_counts (
            topic TEXT PRIMARY KEY,
            articles INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TRIGGER topic_articles_insert AFTER INSERT ON topic_articles
        BEGIN
            INSERT INTO topic_counts VALUES (new.topic, 1)
            ON CONFLICT (topic) DO UPDATE SET articles = topic_counts.articles + 1;
        END;
        CREATE TRIGGER topic_articles_delete AFTER DELETE ON topic_articles
        BEGIN
            UPDATE topic_counts SET articles = articles - 1 WHERE topic = old.topic;
        END;
        CREATE TRIGGER positions_summary_insert AFTER INSERT ON positions
        BEGIN
            INSERT INTO topic_summary
            SELECT t.topic, new.guarantee, new.stance, new.party, new.actor_id,
                   1, ifnull(new.published, ''), new.id
            FROM (SELECT '*' AS topic UNION SELECT new.party UNION SELECT new.guarantor
                  UNION SELECT new.beneficiary) AS t
            WHERE t.topic IS NOT NULL
            ON CONFLICT (topic, guarantee, stance, party, actor_id) DO UPDATE SET
                positions = topic_summary.positions + 1,
                latest_position_id = CASE
                    WHEN excluded.latest_published >= topic_summary.latest_published
                    THEN excluded.latest_position_id ELSE topic_summary.latest_position_id END,
                latest_published = max(topic_summary.latest_published,
                                       excluded.latest_published);
            INSERT INTO topic_articles
            SELECT t.topic, new.article_id, 1
            FROM (SELECT '*' AS topic UNION SELECT new.party UNION SELECT new.guarantor
                  UNION SELECT new.beneficiary) AS t
            WHERE t.topic IS NOT NULL
            ON CONFLICT (topic, article_id) DO UPDATE SET
                positions = topic_articles.positions + 1;
        END;
        CREATE TRIGGER positions_summary_delete AFTER DELETE ON positions
        BEGIN
            UPDATE topic_summary SET positions = positions - 1
            WHERE topic IN ('*', old.party, old.guarantor, old.beneficiary)
              AND guarantee = old.guarantee AND stance = old.stance
              AND party = old.party AND actor_id = old.actor_id;
            DELETE FROM topic_summary
            WHERE topic IN ('*', old.party, old.guarantor, old.beneficiary)
              AND guarantee = old.guarantee AND stance = old.stance
              AND party = old.party AND actor_id = old.actor_id AND positions <= 0;
            UPDATE topic_summary SET (latest_published, latest_position_id) = (
                SELECT ifnull(p.published, ''), p.id FROM positions AS p
                WHERE p.actor_id = old.actor_id AND p.guarantee = old.guarantee
                  AND p.stance = old.stance AND p.party = old.party
                  AND (topic_summary.topic = '*'
                       OR topic_summary.topic IN (p.party, p.guarantor, p.beneficiary))
                ORDER BY ifnull(p.published, '') DESC, p.id DESC LIMIT 1)
            WHERE topic IN ('*', old.party, old.guarantor, old.beneficiary)
              AND guarantee = old.guarantee AND stance = old.stance
              AND party = old.party AND actor_id = old.actor_id
              AND latest_position_id = old.id
              -- PostgreSQL runs row triggers once the whole DELETE is done: when the other
              -- positions of the row went in the same statement, its own trigger drops it.
              AND EXISTS (
                SELECT 1 FROM positions AS p
                WHERE p.actor_id = old.actor_id AND p.guarantee = old.guarantee
                  AND p.stance = old.stance AND p.party = old.party
                  AND (topic_summary.topic = '*'
                       OR topic_summary.topic IN (p.party, p.guarantor, p.beneficiary)));
            UPDATE topic_articles SET positions = positions - 1
            WHERE topic IN ('*', old.party, old.guarantor, old.beneficiary)
              AND article_id = old.article_id;
            DELETE FROM topic_articles
            WHERE topic IN ('*', old.party, old.guarantor, old.beneficiary)
              AND article_id = old.article_id AND positions <= 0;
        END;
        """,
    )
]


_CELL_KEY = (
    "topic = {r}.topic AND guarantee = {r}.guarantee AND stance = {r}.stance"
    " AND party = {r}.party"
)
_CELL_LATEST = (
    "SELECT s.latest_published, s.latest_position_id, s.actor_id FROM topic_summary AS s"
    " WHERE s.topic = {r}.topic AND s.guarantee = {r}.guarantee AND s.stance = {r}.stance"
    " AND s.party = {r}.party ORDER BY s.latest_published DESC, s.latest_position_id DESC"
    " LIMIT 1"
)

# The newest per-actor row of cell `s` (a correlated subquery's FROM ... LIMIT 1).
_LATEST_OF_CELL = (
    "FROM topic_summary AS l WHERE l.topic = s.topic AND l.guarantee = s.guarantee"
    " AND l.stance = s.stance AND l.party = s.party"
    " ORDER BY l.latest_published DESC, l.latest_position_id DESC LIMIT 1"
)

MIGRATIONS.append(
    (
        "positions-2-cells",
        f"""
        -- One row per (topic, guarantee, stance, party), folded over actors: what a whole
        -- topic's card reads (hundreds of rows where topic_summary may hold thousands).
        -- Kept by triggers on topic_summary, which the position triggers keep.
        CREATE TABLE cell_summary (
            topic TEXT NOT NULL,
            guarantee TEXT NOT NULL,
            stance TEXT NOT NULL,
            party TEXT NOT NULL,
            positions INTEGER NOT NULL,
            actors INTEGER NOT NULL,
            latest_published TEXT NOT NULL,
            latest_position_id INTEGER NOT NULL,
            latest_actor_id INTEGER NOT NULL,
            PRIMARY KEY (topic, guarantee, stance, party)
        ) WITHOUT ROWID;
        INSERT INTO cell_summary
        SELECT s.topic, s.guarantee, s.stance, s.party, sum(s.positions), count(*),
               max(s.latest_published),
               (SELECT l.latest_position_id {_LATEST_OF_CELL}),
               (SELECT l.actor_id {_LATEST_OF_CELL})
        FROM topic_summary AS s GROUP BY s.topic, s.guarantee, s.stance, s.party;
        CREATE TRIGGER topic_summary_cell_insert AFTER INSERT ON topic_summary
        BEGIN
            INSERT INTO cell_summary VALUES (
                new.topic, new.guarantee, new.stance, new.party, new.positions, 1,
                new.latest_published, new.latest_position_id, new.actor_id)
            ON CONFLICT (topic, guarantee, stance, party) DO UPDATE SET
                positions = cell_summary.positions + excluded.positions,
                actors = cell_summary.actors + 1,
                latest_position_id = CASE
                    WHEN excluded.latest_published >= cell_summary.latest_published
                    THEN excluded.latest_position_id ELSE cell_summary.latest_position_id END,
                latest_actor_id = CASE
                    WHEN excluded.latest_published >= cell_summary.latest_published
                    THEN excluded.latest_actor_id ELSE cell_summary.latest_actor_id END,
                latest_published = max(cell_summary.latest_published,
                                       excluded.latest_published);
        END;
        CREATE TRIGGER topic_summary_cell_update AFTER UPDATE ON topic_summary
        BEGIN
            UPDATE cell_summary SET
                positions = positions + new.positions - old.positions,
                latest_position_id = CASE
                    WHEN new.latest_published >= latest_published
                    THEN new.latest_position_id ELSE latest_position_id END,
                latest_actor_id = CASE
                    WHEN new.latest_published >= latest_published
                    THEN new.actor_id ELSE latest_actor_id END,
                latest_published = max(latest_published, new.latest_published)
            WHERE {_CELL_KEY.format(r="new")};
            UPDATE cell_summary
            SET (latest_published, latest_position_id, latest_actor_id) = (
                {_CELL_LATEST.format(r="new")})
            WHERE {_CELL_KEY.format(r="new")} AND latest_position_id = old.latest_position_id
              AND new.latest_position_id != old.latest_position_id;
        END;
        CREATE TRIGGER topic_summary_cell_delete AFTER DELETE ON topic_summary
        BEGIN
            UPDATE cell_summary SET positions = positions - old.positions, actors = actors - 1
            WHERE {_CELL_KEY.format(r="old")};
            DELETE FROM cell_summary WHERE {_CELL_KEY.format(r="old")} AND actors <= 0;
            UPDATE cell_summary
            SET (latest_published, latest_position_id, latest_actor_id) = (
                {_CELL_LATEST.format(r="old")})
            WHERE {_CELL_KEY.format(r="old")} AND latest_position_id = old.latest_position_id;
        END;
        """,
    )
)


# The distinct topics of one position (alias p or new/old): every position counts for '*'
# and for each party it involves, once.
_POSITION_TOPICS = (
    "SELECT '*' AS topic UNION SELECT {r}.party UNION SELECT {r}.guarantor"
    " UNION SELECT {r}.beneficiary"
)

MIGRATIONS.append(
    (
        "positions-3-guarantee-articles",
        f"""
        -- Which articles each topic draws on per guarantee, so "ukraine peacekeepers" counts
        -- its sources with one lookup instead of a scan of the matching positions.
        CREATE TABLE guarantee_articles (
            topic TEXT NOT NULL,
            guarantee TEXT NOT NULL,
            article_id INTEGER NOT NULL,
            positions INTEGER NOT NULL,
            PRIMARY KEY (topic, guarantee, article_id)
        ) WITHOUT ROWID;
        CREATE TABLE guarantee_counts (
            topic TEXT NOT NULL,
            guarantee TEXT NOT NULL,
            articles INTEGER NOT NULL,
            PRIMARY KEY (topic, guarantee)
        ) WITHOUT ROWID;
        INSERT INTO guarantee_articles
        SELECT t.topic, p.guarantee, p.article_id, count(*)
        FROM positions AS p JOIN (
            SELECT id, '*' AS topic FROM positions
            UNION SELECT id, party FROM positions
            UNION SELECT id, guarantor FROM positions WHERE guarantor IS NOT NULL
            UNION SELECT id, beneficiary FROM positions WHERE beneficiary IS NOT NULL
        ) AS t ON t.id = p.id
        GROUP BY t.topic, p.guarantee, p.article_id;
        INSERT INTO guarantee_counts
        SELECT topic, guarantee, count(*) FROM guarantee_articles GROUP BY topic, guarantee;
        CREATE TRIGGER guarantee_articles_insert AFTER INSERT ON guarantee_articles
        BEGIN
            INSERT INTO guarantee_counts VALUES (new.topic, new.guarantee, 1)
            ON CONFLICT (topic, guarantee) DO UPDATE SET
                articles = guarantee_counts.articles + 1;
        END;
        CREATE TRIGGER guarantee_articles_delete AFTER DELETE ON guarantee_articles
        BEGIN
            UPDATE guarantee_counts SET articles = articles - 1
            WHERE topic = old.topic AND guarantee = old.guarantee;
        END;
        CREATE TRIGGER positions_guarantee_articles_insert AFTER INSERT ON positions
        BEGIN
            INSERT INTO guarantee_articles
            SELECT t.topic, new.guarantee, new.article_id, 1
            FROM ({_POSITION_TOPICS.format(r="new")}) AS t
            WHERE t.topic IS NOT NULL
            ON CONFLICT (topic, guarantee, article_id) DO UPDATE SET
                positions = guarantee_articles.positions + 1;
        END;
        CREATE TRIGGER positions_guarantee_articles_delete AFTER DELETE ON positions
        BEGIN
            UPDATE guarantee_articles SET positions = positions - 1
            WHERE topic IN ('*', old.party, old.guarantor, old.beneficiary)
              AND guarantee = old.guarantee AND article_id = old.article_id;
            DELETE FROM guarantee_articles
            WHERE topic IN ('*', old.party, old.guarantor, old.beneficiary)
              AND guarantee = old.guarantee AND article_id = old.article_id
              AND positions <= 0;
        END;
        """,
    )
)


MIGRATIONS.append(
    (
        "positions-4-published-window",
        """
        -- Questions with a time window (`/guarantees ukraine this week`) read positions by
        -- publication date: the summaries above are totals over all time. The index holds
        -- every column such a card groups and filters by, so a window is one range scan of
        -- the index, never a visit to the table.
        CREATE INDEX positions_published_window ON positions (
            published, guarantee, stance, party, actor_id, guarantor, beneficiary, article_id);
        """,
    )
)


MIGRATIONS.append(
    (
        "positions-5-article-dates",
        """
        -- A window's sources are the articles published inside it that the topic draws on:
        -- a range of this index, each checked against topic_articles / guarantee_articles.
        CREATE INDEX articles_published ON articles (published);
        -- "What changed" compares a party's latest stance inside a window with its latest
        -- before it: the freshest position of a party on a guarantee before a date is one
        -- backward step of this index. It serves every query positions_party served.
        DROP INDEX positions_party;
        CREATE INDEX positions_party_fresh ON positions (party, guarantee, published);
        """,
    )
)


MIGRATIONS.append(
    (
        "positions-6-confidence",
        """
        -- How sure the extractor was of each position (0-1, the combined extractor's model
        -- probability); NULL for extractors that give none and for rows stored before.
        ALTER TABLE positions ADD COLUMN confidence REAL;
        """,
    )
)
