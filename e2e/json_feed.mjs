// Feed readers' view, part 2: JSON Feed 1.1, which feedparser does not
// read. feedsmith (npm, a feed parser for RSS/Atom/RDF/JSON Feed) parses
// the site's and every category's feed.json from the live server; items
// must be exactly the store's articles of that scope with the manifest's
// title, link, date, tags and author.
//
// Usage: node json_feed.mjs BASE_URL MANIFEST SITE_TITLE
import { readFileSync } from "node:fs";
import { parseJsonFeed } from "feedsmith";

const [base, manifestPath, siteTitle] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
const failures = [];
let checks = 0;
const check = (ok, what) => {
  checks += 1;
  if (!ok) {
    console.log(`FAIL ${what}`);
    failures.push(what);
  }
  return ok;
};
const sorted = (xs) => [...xs].sort().join(" | ");

const scopes = [["", null, manifest.articles]];
const cats = new Map();
for (const a of manifest.articles) for (const c of a.categories) cats.set(c.slug, c.name);
for (const [slug, name] of [...cats].sort()) {
  scopes.push([`categories/${slug}/`, name, manifest.articles.filter((a) => a.categories.some((c) => c.slug === slug))]);
}

for (const [prefix, suffix, expected] of scopes) {
  const url = `${base}${prefix}feed.json`;
  const resp = await fetch(url);
  check(resp.status === 200, `${url}: HTTP 200 (got ${resp.status})`);
  check((resp.headers.get("content-type") || "").startsWith("application/feed+json"), `${url}: content type ${resp.headers.get("content-type")}`);
  const before = [checks, failures.length];
  const text = await resp.text();
  let feed;
  try {
    feed = parseJsonFeed(text);
  } catch (e) {
    check(false, `${url}: parses as JSON Feed (${e})`);
    continue;
  }
  // feedsmith leaves `version` out of what it returns.
  const version = JSON.parse(text).version;
  check(version === "https://jsonfeed.org/version/1.1", `${url}: version ${version}`);
  const wantTitle = suffix === null ? siteTitle : `${siteTitle} – ${suffix}`;
  check(feed.title === wantTitle, `${url}: title ${feed.title}`);
  check(feed.feed_url === url || feed.feedUrl === url, `${url}: feed_url points at itself`);
  const items = feed.items || [];
  check(sorted(items.map((i) => i.title)) === sorted(expected.map((a) => a.title)), `${url}: items are the store's ${expected.length} articles`);
  for (const a of expected) {
    const item = items.find((i) => i.title === a.title);
    if (!item) continue;
    check(item.url === a.link, `${url}: ${a.title}: url ${item.url}`);
    const published = item.date_published || item.datePublished;
    check(Date.parse(published) === Date.parse(a.published), `${url}: ${a.title}: date ${published}`);
    check(sorted(item.tags || []) === sorted(a.categories.map((c) => c.name)), `${url}: ${a.title}: tags ${item.tags}`);
    const authors = (item.authors || []).map((x) => x.name);
    check(authors.includes(a.author), `${url}: ${a.title}: authors ${authors}`);
    check(`${item.summary || ""}${item.content_html || item.contentHtml || ""}`.includes(a.summary), `${url}: ${a.title}: summary present`);
  }
  if (failures.length === before[1]) console.log(`ok   ${url}: ${items.length} items, ${checks - before[0]} checks`);
}

console.log(`feedsmith: ${scopes.length} JSON feeds read, ${checks} checks, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
