"""Reading files and folders: good articles in, each bad file one clear line, batch goes on."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from bot.ingest import IngestProblem, read_file, read_paths
from bot.models import Article

GOOD_TEXT = (
    "Macron offers troops for Ukraine\n"
    "French President Emmanuel Macron said France was ready to send troops to Ukraine.\n"
)
HTML_PAGE = """<!doctype html><html><head><title>Rutte backs guarantees</title>
<meta property="og:site_name" content="Example News"></head><body>
<nav>Home | World | Sport</nav>
<article><h1>Rutte backs guarantees</h1>
<p>NATO Secretary General Mark Rutte said on Monday that allies should give Ukraine robust
security guarantees once a ceasefire is agreed, and that the alliance would help plan them.</p>
<p>He added that Ukraine's path to membership was irreversible, a line allies agreed in 2024.</p>
</article><footer>Copyright</footer></body></html>"""


def problems(results: list[Article | IngestProblem]) -> list[IngestProblem]:
    return [r for r in results if isinstance(r, IngestProblem)]


def articles(results: list[Article | IngestProblem]) -> list[Article]:
    return [r for r in results if isinstance(r, Article)]


def test_txt_first_line_is_title(tmp_path: Path) -> None:
    path = tmp_path / "macron.txt"
    path.write_text(GOOD_TEXT, encoding="utf-8")
    [article] = list(read_file(path))
    assert isinstance(article, Article)
    assert article.title == "Macron offers troops for Ukraine"
    assert "ready to send troops" in article.text
    assert article.id.startswith("a-")


def test_html_main_text_without_navigation(tmp_path: Path) -> None:
    path = tmp_path / "rutte.html"
    path.write_text(HTML_PAGE, encoding="utf-8")
    [article] = list(read_file(path))
    assert isinstance(article, Article), article
    assert article.title == "Rutte backs guarantees"
    assert "robust\nsecurity guarantees" in article.text or "robust security" in article.text
    assert "Home | World" not in article.text


def test_jsonl_gold_lines_and_bad_lines(tmp_path: Path) -> None:
    good = {
        "id": "g1",
        "url": "https://news.example/g1",
        "title": "Kallas doubts a date",
        "published": "2026-02-15",
        "text": "Kallas said member states were not ready to give Ukraine a date to join.",
        "positions": [],
    }
    path = tmp_path / "gold.jsonl"
    path.write_text(
        "\n".join([json.dumps(good), "{not json", json.dumps([1, 2]), json.dumps({"id": "x"})]),
        encoding="utf-8",
    )
    results = list(read_file(path))
    [article] = articles(results)
    assert (article.id, article.published) == ("g1", date(2026, 2, 15))
    assert article.outlet == "news.example"
    reasons = [str(p) for p in problems(results)]
    assert len(reasons) == 3
    assert ":2: malformed JSON (" in reasons[0]
    assert ":3: a line must be a JSON object" in reasons[1]
    assert ":4: no article text" in reasons[2]


def test_each_bad_file_is_one_line_and_the_batch_goes_on(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text(GOOD_TEXT, encoding="utf-8")
    (tmp_path / "empty.txt").write_text("  \n\n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10)
    (tmp_path / "latin1.txt").write_bytes("Élysée: la France enverra des troupes".encode("latin-1"))
    (tmp_path / "nav.html").write_text("<html><body><nav>Home</nav></body></html>", "utf-8")
    (tmp_path / "huge.txt").write_bytes(b"a" * (10 * 1024 * 1024))
    (tmp_path / "notes.md").write_text("ignored: not a supported suffix", encoding="utf-8")
    results = list(read_paths([tmp_path, tmp_path / "missing.txt"]))
    assert [a.title for a in articles(results)] == ["Macron offers troops for Ukraine"]
    lines = {Path(p.where).name: p.reason for p in problems(results)}
    assert lines == {
        "binary.txt": "binary file, not text",
        "empty.txt": "empty file",
        "huge.txt": "too large (10.5 MB, limit 5 MB)",
        "latin1.txt": "not UTF-8 (bad byte at offset 0)",
        "nav.html": "page holds no article text",
        "missing.txt": "no such file or folder",
    }


def test_unsupported_suffix_named(tmp_path: Path) -> None:
    path = tmp_path / "article.pdf"
    path.write_bytes(b"%PDF-1.7")
    [problem] = list(read_file(path))
    assert isinstance(problem, IngestProblem)
    assert "unsupported file type .pdf" in problem.reason


def test_empty_folder(tmp_path: Path) -> None:
    [problem] = list(read_paths([tmp_path]))
    assert isinstance(problem, IngestProblem)
    assert "holds no" in problem.reason
