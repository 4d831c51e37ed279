"""Change alerts: `advisor watch` checks official pages (HTML, e.g. the CAC's policy lists) and RSS/Atom
feeds for announcements that look like new or amended rules, records them, and notifies each one at most
once per channel; and it reminds, once per due date, of each system's periodic (default quarterly) review.

* Fetching: httpx with a timeout, conditional requests (ETag / Last-Modified remembered per source, so an
  unchanged page costs a 304); a timeout, an HTTP error or a broken feed is recorded for that source and
  the other sources are still checked.
* Parsing: feeds with feedparser; HTML pages by their links (the standard library's html.parser), each
  link's text as the item title, resolved against the page URL.
* Recognising: an item whose title holds a keyword (setting ``watch_keywords``: 办法, 规定, 条例, 征求意见稿,
  标准 ...) is recorded once, by its link (or feed id).
* Notifying: channels are `Notifier`s (a generic JSON webhook here; Feishu, DingTalk and WeCom in
  advisor/present/notifiers.py). Each (item, channel) is claimed in the database before sending, so two
  watchers never both send it; a failed send releases the claim and is retried on the next run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html.parser
from typing import Iterable, Protocol
from urllib.parse import urljoin, urlsplit

import httpx
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from advisor.workspace.models import Notification, WatchItem, WatchSource, utcnow
from advisor.workspace.service import Workspace

USER_AGENT = "china-ai-advisor-watch"


@dataclasses.dataclass(frozen=True)
class Notice:
    """What a channel is told: a recognised announcement, or a review reminder."""

    key: str
    kind: str                # rule | review
    title: str
    link: str = ""
    source: str = ""
    published: str | None = None
    keywords: tuple[str, ...] = ()
    system: str | None = None
    due: str | None = None

    def text(self) -> str:
        if self.kind == "review":
            return (f"合规复核提醒 Compliance review due: {self.title} ({self.system}) — due {self.due}. "
                    f"Run: advisor systems reassess {self.system}")
        words = "、".join(self.keywords)
        return f"新规则动态 New rule announcement [{words}]: {self.title}\n{self.link}"

    def payload(self) -> dict:
        return {**{k: v for k, v in dataclasses.asdict(self).items()}, "keywords": list(self.keywords), "text": self.text()}


class Notifier(Protocol):
    channel: str

    def send(self, notice: Notice) -> None:
        """Deliver the notice; raise on failure (it is then retried on the next run)."""


class WebhookNotifier:
    """A generic webhook: one JSON POST per notice (the Notice fields plus a ready-made `text`)."""

    def __init__(self, url: str, timeout: float = 10.0, transport: httpx.BaseTransport | None = None):
        self.url, self.channel = url, "webhook"
        self._http = httpx.Client(timeout=timeout, transport=transport, headers={"User-Agent": USER_AGENT})

    def send(self, notice: Notice) -> None:
        response = self._http.post(self.url, json=notice.payload())
        response.raise_for_status()


@dataclasses.dataclass
class Item:
    key: str
    title: str
    link: str
    published: str | None = None


@dataclasses.dataclass
class WatchReport:
    checked: list[dict] = dataclasses.field(default_factory=list)     # per source: url, status, items, new, error
    new_items: list[dict] = dataclasses.field(default_factory=list)
    reminders: list[dict] = dataclasses.field(default_factory=list)
    sent: list[dict] = dataclasses.field(default_factory=list)        # {key, channel}
    failed: list[dict] = dataclasses.field(default_factory=list)      # {key, channel, error}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), []

    def handle_data(self, data):
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join("".join(self._text).split())))
            self._href = None


def html_items(page: str, base: str) -> list[Item]:
    """Every link of an HTML page with its text as the title (deduplicated, absolute URLs)."""
    parser = _Links()
    parser.feed(page)
    seen, items = set(), []
    for href, title in parser.links:
        href = (href or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:")) or len(title) < 4:
            continue
        link = urljoin(base, href)
        if urlsplit(link).scheme not in ("http", "https") or link in seen:
            continue
        seen.add(link)
        items.append(Item(link, title, link))
    return items


class FeedError(Exception):
    pass


def feed_items(body: bytes, base: str) -> list[Item]:
    """The entries of an RSS/Atom feed; FeedError when it cannot be read as one."""
    import feedparser

    parsed = feedparser.parse(body)
    reason = getattr(parsed, "bozo_exception", None)
    if parsed.bozo and reason is not None and "SAXParseException" in type(reason).__name__:
        # not well-formed XML: feedparser's loose parser would guess at entries (and garbled titles); refuse it
        line = getattr(reason, "getLineNumber", lambda: None)()
        raise FeedError(f"not a readable RSS/Atom feed (malformed XML{f' at line {line}' if line else ''})")
    if not parsed.entries:
        reason = getattr(parsed, "bozo_exception", None)
        raise FeedError(f"not a readable RSS/Atom feed ({type(reason).__name__ if reason else 'no entries'})")
    items = []
    for e in parsed.entries:
        link = urljoin(base, e.get("link") or "")
        title = " ".join((e.get("title") or "").split())
        if not title:
            continue
        items.append(Item(e.get("id") or link or title, title, link, e.get("published") or e.get("updated")))
    return items


def _is_feed(content_type: str, body: bytes) -> bool:
    head = body[:500].lstrip().lower()
    return any(t in content_type for t in ("rss", "atom", "xml")) or head.startswith(b"<?xml") or b"<rss" in head or b"<feed" in head


def matched(title: str, keywords: Iterable[str]) -> tuple[str, ...]:
    return tuple(k for k in keywords if k and k in title)


class Watcher:
    def __init__(self, workspace: Workspace, sources: list[str], keywords: list[str], notifiers: list[Notifier],
                 timeout: float = 10.0, transport: httpx.BaseTransport | None = None):
        self.ws, self.sources, self.keywords, self.notifiers = workspace, sources, keywords, notifiers
        self._http = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=True, transport=transport,
                                  headers={"User-Agent": USER_AGENT})

    def close(self) -> None:
        self._http.close()

    # ---- fetching ------------------------------------------------------------------------------------
    def _fetch(self, url: str) -> tuple[str, list[Item]]:
        """(status, items) for one source, using and updating its cache validators."""
        with self.ws.sessions() as s:
            src = s.get(WatchSource, url)
            headers = {}
            if src and src.etag:
                headers["If-None-Match"] = src.etag
            if src and src.last_modified:
                headers["If-Modified-Since"] = src.last_modified
        try:
            response = self._http.get(url, headers=headers)
        except httpx.TimeoutException:
            raise FeedError("timed out") from None
        except httpx.HTTPError as exc:
            raise FeedError(f"could not be fetched ({type(exc).__name__})") from None
        if response.status_code == 304:
            return "not_modified", []
        if response.status_code >= 400:
            raise FeedError(f"HTTP {response.status_code}")
        body = response.content
        ctype = response.headers.get("content-type", "").lower()
        items = feed_items(body, str(response.url)) if _is_feed(ctype, body) else html_items(response.text, str(response.url))
        with self.ws.sessions.begin() as s:
            src = s.get(WatchSource, url) or WatchSource(url=url)
            src.etag, src.last_modified = response.headers.get("etag"), response.headers.get("last-modified")
            s.add(src)
        return "fetched", items

    def _record_source(self, url: str, status: str, error: str | None) -> None:
        with self.ws.sessions.begin() as s:
            src = s.get(WatchSource, url) or WatchSource(url=url)
            src.checked_at, src.status, src.error = utcnow(), status, error
            s.add(src)

    def _record_items(self, source: str, items: list[Item]) -> list[Notice]:
        """Record the recognised items not seen before; the notices of all recognised items of this run."""
        notices, new = [], []
        with self.ws.sessions.begin() as s:
            known = set(s.scalars(select(WatchItem.key).where(WatchItem.key.in_([i.key for i in items])))) if items else set()
            for item in items:
                words = matched(item.title, self.keywords)
                if not words:
                    continue
                if item.key not in known:
                    known.add(item.key)
                    s.add(WatchItem(key=item.key, source=source, title=item.title, link=item.link,
                                    published=item.published, keywords=list(words), first_seen=utcnow()))
                    new.append(item.key)
                notices.append(Notice(f"item:{item.key}", "rule", item.title, item.link, source, item.published, words))
        return notices

    # ---- notifying -----------------------------------------------------------------------------------
    def _deliver(self, notice: Notice, report: WatchReport) -> None:
        for notifier in self.notifiers:
            try:
                with self.ws.sessions.begin() as s:  # claim: the unique (key, channel) admits one sender, ever
                    s.add(Notification(key=notice.key[:1000], channel=notifier.channel, claimed_at=utcnow()))
            except IntegrityError:
                continue  # already sent (or being sent by another watcher)
            try:
                notifier.send(notice)
            except Exception as exc:  # release the claim: it will be tried again next run
                with self.ws.sessions.begin() as s:
                    s.execute(delete(Notification).where(Notification.key == notice.key[:1000],
                                                         Notification.channel == notifier.channel))
                report.failed.append({"key": notice.key, "channel": notifier.channel, "error": _short(exc)})
                continue
            with self.ws.sessions.begin() as s:
                row = s.scalar(select(Notification).where(Notification.key == notice.key[:1000],
                                                          Notification.channel == notifier.channel))
                if row is not None:
                    row.sent_at = utcnow()
            report.sent.append({"key": notice.key, "channel": notifier.channel})

    def review_notices(self, today: dt.date) -> list[Notice]:
        return [Notice(f"review:{r['key']}:{r['next_review']}", "review", r["name"], system=r["key"], due=r["next_review"])
                for r in self.ws.list_systems(today=today) if r["next_review"] <= today.isoformat()]

    # ---- one run -------------------------------------------------------------------------------------
    def run(self, *, notify: bool = True, reminders: bool = True, today: dt.date | None = None) -> WatchReport:
        report = WatchReport()
        notices: list[Notice] = []
        for url in self.sources:
            try:
                status, items = self._fetch(url)
            except FeedError as exc:
                self._record_source(url, "error", str(exc))
                report.checked.append({"url": url, "status": "error", "items": 0, "error": str(exc)})
                continue
            with self.ws.sessions() as s:
                before = set(s.scalars(select(WatchItem.key)))
            found = self._record_items(url, items)
            fresh = [n for n in found if n.key.removeprefix("item:") not in before]
            self._record_source(url, status, None)
            report.checked.append({"url": url, "status": status, "items": len(items), "recognised": len(found),
                                   "new": len(fresh), "error": None})
            report.new_items += [{"title": n.title, "link": n.link, "keywords": list(n.keywords), "source": url} for n in fresh]
            notices += found
        if reminders:
            due = self.review_notices(today or dt.date.today())
            report.reminders = [{"system": n.system, "due": n.due} for n in due]
            notices += due
        if notify:
            for notice in notices:
                self._deliver(notice, report)
        return report

    def items(self, limit: int = 100) -> list[dict]:
        with self.ws.sessions() as s:
            rows = s.scalars(select(WatchItem).order_by(WatchItem.id.desc()).limit(limit))
            return [{"title": r.title, "link": r.link, "source": r.source, "published": r.published,
                     "keywords": r.keywords, "first_seen": r.first_seen.isoformat()} for r in rows]


def _short(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}" if str(exc) else type(exc).__name__
