"""Feed readers' view, part 1: Python's feedparser (Debian's python3-feedparser)
reads every RSS and Atom feed of the live server (the site and each
category) over HTTP. Each must parse without the bozo flag, and its items
must be exactly the store's articles of that scope, with the manifest's
title, link, date, categories, author and image (RSS: media_content and
media_thumbnail; Atom: an enclosure link), and the feed's icon (RSS:
image; Atom: icon and logo); its content type must be the feed's (a
browser's navigation to the same URL gets a preview page instead). Then a
conditional GET with the validators feedparser saw must be answered 304. Last, /feeds.opml (OPML
2.0, read with xml.etree: feedparser has no OPML reader) lists the RSS
feed of every scope, and feedparser reads each feed it names.

feedparser has no JSON Feed parser; JSON Feed is read by json_feed.mjs.

Usage: check_feeds.py BASE_URL MANIFEST SITE_TITLE
Prints one line per check; exits 1 if any failed.
"""

import calendar
import json
import sys
import urllib.request
import xml.etree.ElementTree as ET
from datetime import datetime

import feedparser

failures = []
checks = 0


def check(ok, what):
    """Failures are printed at once; passes are counted per feed."""
    global checks
    checks += 1
    if not ok:
        print("FAIL " + what)
        failures.append(what)
    return ok


def epoch(iso):
    return int(datetime.fromisoformat(iso).timestamp())


def scopes(manifest):
    """(path prefix, title suffix, expected articles) for the site and every category."""
    arts = manifest["articles"]
    out = [("", None, arts)]
    cats = {}
    for a in arts:
        for c in a["categories"]:
            cats[c["slug"]] = c["name"]
    for slug, name in sorted(cats.items()):
        out.append((f"categories/{slug}/", name, [a for a in arts if any(c["slug"] == slug for c in a["categories"])]))
    return out


def check_feed(url, kind, site_title, suffix, expected, identity):
    before = (checks, len(failures))
    d = feedparser.parse(url)
    d = check_parsed(d, url, kind, site_title, suffix, expected)
    if not d.bozo:
        check_media(d, url, kind, expected, identity)
    if len(failures) == before[1]:
        print(f"ok   {url}: {d.get('version')}, {len(d.entries)} items, {checks - before[0]} checks")
    return d


def check_parsed(d, url, kind, site_title, suffix, expected):
    label = url
    check(d.get("status") == 200, f"{label}: HTTP 200 (got {d.get('status')})")
    # A reader gets the feed, not the preview page a browser's navigation
    # gets at the same URL (feeds.browser_view); the answer says it varies.
    headers = d.get("headers", {})
    want_type = {"rss20": "application/rss+xml", "atom10": "application/atom+xml"}[kind]
    check(headers.get("content-type", "").startswith(want_type), f"{label}: content type {headers.get('content-type')!r} (want {want_type})")
    check("sec-fetch-dest" in headers.get("vary", "").lower(), f"{label}: Vary {headers.get('vary')!r} names Sec-Fetch-Dest")
    if not check(not d.bozo, f"{label}: no bozo flag ({d.get('bozo_exception')!r})"):
        return d
    check(d.version == kind, f"{label}: read as {kind} (got {d.version})")
    want_title = site_title if suffix is None else f"{site_title} – {suffix}"
    check(d.feed.get("title") == want_title, f"{label}: feed title {d.feed.get('title')!r}")
    got = {e.title: e for e in d.entries}
    check(sorted(got) == sorted(a["title"] for a in expected), f"{label}: items are the store's {len(expected)} articles ({sorted(got)})")
    for a in expected:
        e = got.get(a["title"])
        if e is None:
            continue
        t = a["title"]
        check(e.get("link") == a["link"], f"{label}: {t}: link {e.get('link')}")
        when = e.get("published_parsed") or e.get("updated_parsed")
        check(when is not None and calendar.timegm(when) == epoch(a["published"]), f"{label}: {t}: date {e.get('published') or e.get('updated')} = {a['published']}")
        # RSS <category> is the name; Atom's term is the slug, its label the name.
        terms = sorted(tag.get("label") or tag.term for tag in e.get("tags", []))
        check(terms == sorted(c["name"] for c in a["categories"]), f"{label}: {t}: categories {terms}")
        check(e.get("author") == a["author"], f"{label}: {t}: author {e.get('author')!r}")
        text = e.get("summary", "") + "".join(c.value for c in e.get("content", []))
        check(a["summary"] in text, f"{label}: {t}: summary present")
        check(e.get("id", "").startswith("urn:uuid:"), f"{label}: {t}: stable id {e.get('id')}")
    return d


def check_media(d, label, kind, expected, identity):
    """Images and the site's icon and logo, as feedparser exposes them."""
    icon, logo = identity
    if kind == "rss20":
        check(d.feed.get("image", {}).get("href") == icon, f"{label}: channel image {d.feed.get('image')}")
    else:
        check(d.feed.get("icon") == icon, f"{label}: icon {d.feed.get('icon')!r}")
        check(d.feed.get("logo") == logo, f"{label}: logo {d.feed.get('logo')!r}")
    got = {e.title: e for e in d.entries}
    for a in expected:
        e = got.get(a["title"])
        if e is None:
            continue
        t, want = a["title"], a.get("image")
        if kind == "rss20":
            contents = [m.get("url") for m in e.get("media_content", [])]
            thumbs = [m.get("url") for m in e.get("media_thumbnail", [])]
            check(contents == ([want] if want else []), f"{label}: {t}: media_content {contents}")
            check(thumbs == ([want] if want else []), f"{label}: {t}: media_thumbnail {thumbs}")
            if want:
                check(e.media_content[0].get("medium") == "image" and e.media_content[0].get("type") == "image/jpeg", f"{label}: {t}: medium, type {e.media_content[0]}")
        else:
            enclosures = [(x.get("href"), x.get("type")) for x in e.get("enclosures", [])]
            check(enclosures == ([(want, "image/jpeg")] if want else []), f"{label}: {t}: enclosures {enclosures}")


def check_opml(base, seen):
    """Every outline of /feeds.opml with an xmlUrl is a feed feedparser reads,
    and the RSS feeds checked above are all listed."""
    with urllib.request.urlopen(base + "feeds.opml") as r:
        check(r.status == 200, f"feeds.opml: status {r.status}")
        root = ET.fromstring(r.read())
    check(root.tag == "opml" and root.get("version") == "2.0", "feeds.opml: an OPML 2.0 document")
    urls = [o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")]
    for url in urls:
        d = feedparser.parse(url)
        check(d.get("status") == 200 and not d.bozo and d.entries, f"feeds.opml: {url} read by feedparser ({d.get('status')}, bozo {d.bozo})")
    rss = sorted(u for u in seen if u.endswith("feed.xml"))
    missing = [u for u in rss if u not in urls]
    if check(not missing, f"feeds.opml: feeds not listed: {missing}"):
        print(f"ok   feeds.opml: {len(urls)} feeds listed, each read by feedparser")


def check_news_sitemap(base, articles):
    """/sitemap-news.xml: Google's news sitemap, each URL with its publication
    (name, language) and date; the store's articles are all of the last two days."""
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "n": "http://www.google.com/schemas/sitemap-news/0.9"}
    with urllib.request.urlopen(base + "sitemap-news.xml") as r:
        check(r.status == 200, f"sitemap-news.xml: status {r.status}")
        root = ET.fromstring(r.read())
    urls = root.findall("s:url", ns)
    complete = all(u.find("s:loc", ns) is not None and u.find("n:news/n:publication/n:name", ns) is not None
                   and u.find("n:news/n:publication/n:language", ns).text == "vi"
                   and u.find("n:news/n:publication_date", ns) is not None and u.find("n:news/n:title", ns) is not None for u in urls)
    if check(root.tag == "{%s}urlset" % ns["s"] and urls and complete and len(urls) == articles,
             f"sitemap-news.xml: {len(urls)} complete news entries (want {articles})"):
        print(f"ok   sitemap-news.xml: {len(urls)} articles, each with publication, language vi, date and title")


def main(base, manifest_path, site_title):
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    seen = {}
    identity = (manifest["icon"], manifest["logo"])
    for prefix, suffix, expected in scopes(manifest):
        for name, kind in (("feed.xml", "rss20"), ("atom.xml", "atom10")):
            url = base + prefix + name
            seen[url] = check_feed(url, kind, site_title, suffix, expected, identity)

    # Relative links in bodies were made absolute against site.base_url.
    site = seen[base + "feed.xml"]
    bodies = "".join(c.value for e in site.entries for c in e.get("content", []))
    if check(manifest["base_url"] + "tin-tuc/le-hoi-mu-cang-chai" in bodies, "feed.xml: relative body link made absolute"):
        print("ok   feed.xml: relative link in a body made absolute")

    # A second poll with the validators this reader saw: 304, no body.
    for url in (base + "feed.xml", base + "atom.xml"):
        first = seen[url]
        check(bool(first.get("etag")) and bool(first.get("modified")), f"{url}: ETag and Last-Modified sent")
        again = feedparser.parse(url, etag=first.get("etag"), modified=first.get("modified"))
        if check(again.get("status") == 304 and not again.entries, f"{url}: conditional GET answered {again.get('status')} (want 304)"):
            print(f"ok   {url}: second poll with ETag {first.get('etag')} answered 304")

    check_opml(base, seen)
    check_news_sitemap(base, len(manifest["articles"]))

    print(f"feedparser {feedparser.__version__}: {len(seen)} feeds read, {checks} checks, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
