"""`check --feedback DIR`: a page per student, Markdown and self-contained HTML; the
HTML is opened in a real headless Chromium (when installed): it renders its tables
and requests nothing from the network."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser

import pytest

from .conftest import ROOT
from .test_cli_step import run

ARTICLE_ANSWERS = ROOT / "data" / "article_answers.yaml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WRONG_COLOUR, RIGHT_COLOUR = (0xF7, 0xC4, 0xC4), (0xC8, 0xEF, 0xC8)  # the verdict cells' backgrounds


@pytest.fixture
def pages(tmp_path):
    """Feedback for the article's answers (bo) and a refused sheet (cy)."""
    shutil.copy(ARTICLE_ANSWERS, tmp_path / "bo.yaml")
    (tmp_path / "cy.yaml").write_text("problem: article\nanswers:\n  loss: [1\n")
    run("check", str(tmp_path / "bo.yaml"), str(tmp_path / "cy.yaml"), "--feedback", str(tmp_path / "fb"), code=2)
    return tmp_path / "fb"


class Page(HTMLParser):
    """What a page holds: its tags' attributes, table rows' classes and cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.rows: list[tuple[str | None, list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append((dict(attrs).get("class"), []))
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1][1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_a_page_per_student_with_every_number_its_verdict_and_message(pages):
    assert sorted(p.name for p in pages.iterdir()) == ["bo.html", "bo.md", "cy.html", "cy.md"]
    entries = json.loads(run("check", str(ARTICLE_ANSWERS), "--format", "json", code=1).stdout)["entries"]
    page = Page()
    page.feed((pages / "bo.html").read_text(encoding="utf-8"))
    numbers = [(kind, cells) for kind, cells in page.rows if kind is not None]
    assert len(numbers) == len(entries) == 39
    for (kind, cells), entry in zip(numbers, entries):
        assert kind == entry["verdict"] and cells[5] == entry["message"]
        assert cells[1] == str(entry["given"]) or float(cells[1]) == entry["given"]
    markdown = (pages / "bo.md").read_text(encoding="utf-8")
    assert "**31 of 81 points: 24 right, 7 follow through, 8 wrong, 42 not answered; " \
           "look first at logits: h[0] of node 5.**" in markdown
    assert "| h[0] of node 5 | 0.47 | 0.41 | ✗ wrong | arithmetic slip | an arithmetic slip; should be 0.41 |" \
        in markdown
    assert "Not marked:" in (pages / "cy.md").read_text() and "Not marked:" in (pages / "cy.html").read_text()


def test_the_html_page_is_self_contained(pages):
    for path in pages.glob("*.html"):
        text = path.read_text(encoding="utf-8")
        page = Page()
        page.feed(text)
        tags = [tag for tag, _ in page.tags]
        assert "script" not in tags and "link" not in tags and "img" not in tags and "iframe" not in tags
        assert not any(name in attrs for _, attrs in page.tags for name in ("src", "href"))
        assert "url(" not in text and "@import" not in text
        policy = [attrs["content"] for tag, attrs in page.tags
                  if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"]
        assert policy == ["default-src 'none'; style-src 'unsafe-inline'"]


def test_feedback_pages_are_not_overwritten_without_force(pages, tmp_path):
    (pages / "bo.md").write_text("mine")
    result = run("check", str(tmp_path / "bo.yaml"), "--feedback", str(pages), code=2)
    assert result.stderr == f"nodeclf: error: {pages / 'bo.md'}: already exists; pass --force to overwrite it\n"
    assert (pages / "bo.md").read_text() == "mine"


# --- in a real browser ---------------------------------------------------------------------


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB(A) rows of an 8-bit PNG (what Chromium's screenshots are)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks, header = 8, [], None
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0
    channels = 3 if colour == 2 else 4
    raw, stride, rows, previous = zlib.decompress(b"".join(chunks)), width * channels, [], bytearray(width * channels)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, up_left = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - up_left
                nearest = min((abs(p - left), 0, left), (abs(p - up), 1, up), (abs(p - up_left), 2, up_left))[2]
                line[i] = (line[i] + nearest) & 255
        rows.append(bytes(line))
        previous = line
    return width, channels, rows


def colours(data: bytes) -> set[tuple[int, int, int]]:
    width, channels, rows = png_pixels(data)
    return {tuple(row[x * channels:x * channels + 3]) for row in rows for x in range(width)}


def open_in_chromium(page, tmp_path) -> tuple[bytes, set[str]]:
    """A screenshot of ``page`` and the URLs the page asked for (from Chromium's own
    network log; the browser's background services are switched off, and no name
    resolves, so nothing leaves this machine)."""
    shot, log = tmp_path / "shot.png", tmp_path / "net.json"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--hide-scrollbars", "--window-size=1000,1400",
         f"--screenshot={shot}", f"--log-net-log={log}", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )
    net = json.loads(log.read_text())
    start = net["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    requested = {e["params"]["url"] for e in net["events"] if e["type"] == start
                 and "file://" in e["params"].get("network_isolation_key", "")}  # asked for by the page
    return shot.read_bytes(), requested


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
def test_the_page_renders_its_table_in_chromium_and_requests_nothing(pages, tmp_path):
    shot, requested = open_in_chromium(pages / "bo.html", tmp_path)
    assert requested <= {(pages / "bo.html").as_uri()}
    seen = colours(shot)
    assert WRONG_COLOUR in seen and RIGHT_COLOUR in seen  # the verdict cells, drawn


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
def test_the_browser_check_sees_a_page_that_does_request_something(tmp_path):
    """The network check can fail: a page with an image and a style sheet from elsewhere."""
    page = tmp_path / "other.html"
    page.write_text('<!DOCTYPE html><p>x</p><img src="http://example.invalid/a.png">'
                    '<link rel="stylesheet" href="https://example.invalid/s.css">')
    shot, requested = open_in_chromium(page, tmp_path)
    assert {"http://example.invalid/a.png", "https://example.invalid/s.css"} <= requested
    assert WRONG_COLOUR not in colours(shot) and RIGHT_COLOUR not in colours(shot)


def test_a_page_in_the_way_keeps_the_gradebook_from_being_written_too(pages, tmp_path):
    folder, grades = tmp_path / "new", tmp_path / "grades.csv"
    folder.mkdir()
    (folder / "bo.html").write_text("mine")
    result = run("check", str(tmp_path / "bo.yaml"), "--feedback", str(folder), "--gradebook", str(grades), code=2)
    assert "bo.html: already exists" in result.stderr and not grades.exists()
    assert [p.name for p in folder.iterdir()] == ["bo.html"] and (folder / "bo.html").read_text() == "mine"
