// A reader's journey in a real browser: Debian's chromium, driven by
// playwright-core. Opens the index page, subscribes through the form,
// follows the confirmation link from the mail the SMTP sink received and
// presses the button on its page, gets the welcome mail and a digest
// (`bantin digest run --now`), opens the preferences link of the welcome
// mail and changes the choices (frequency "instant" where the page offers
// it), asks for the preferences link at /manage, opens the digest's
// unsubscribe page, and leaves with the preferences page's "unsubscribe
// from everything"; then a feed URL (the preview page a browser gets
// instead of raw XML), a feed fetched by a page of another site (CORS),
// and the archive when the route answers.
// Every page is looked at 1280 and 390 px wide: a screenshot of each in
// ARTIFACTS, axe-core (no serious or critical violation), and at 390 px
// no sideways scrolling. The subscriber's state is read back with
// `bantin subscribers list --format json` after each change.
//
// Usage: node browser.mjs BASE_URL SINK_DIR ADDRESS BANTIN CONFIG ARTIFACTS
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const [base, sink, address, bantin, config, artifacts] = process.argv.slice(2);
const here = dirname(fileURLToPath(import.meta.url));
const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
mkdirSync(artifacts, { recursive: true });

const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
  return ok;
};

// The newest link to `route` in a mail to the address (whose subject
// contains `subject`), waiting for it.
const mailLink = (route, subject = "") =>
  execFileSync(process.env.PYTHON || "python3", [join(here, "maillib.py"), "link", sink, address, route, "30", subject], { encoding: "utf8" }).trim();

const subscriber = () => {
  const out = execFileSync(bantin, ["subscribers", "list", "--format", "json", "--config", config], { encoding: "utf8" });
  return JSON.parse(out).find((s) => s.email === address);
};

let shot = 0;
const WIDTHS = [1280, 390];
// Every page at both widths: screenshot, axe-core, and at a phone's width
// no sideways scrolling. The page is not loaded again: a viewport change
// lays out what the last request answered (a POST's answer too).
async function page_checked(page, name, { status, heading }) {
  if (status !== undefined) check(page.lastStatus === status, `${name}: HTTP ${page.lastStatus} (want ${status})`);
  if (heading !== undefined) {
    const h1 = (await page.locator("h1").first().textContent())?.trim();
    check(h1 === heading, `${name}: heading ${JSON.stringify(h1)}`);
  }
  check((await page.getAttribute("html", "lang")) !== null, `${name}: <html lang> set`);
  shot += 1;
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    const file = join(artifacts, `${String(shot).padStart(2, "0")}-${name}-${width}.png`);
    await page.screenshot({ path: file, fullPage: true });
    if (width < 400) await no_sideways_scroll(page, `${name} at ${width} px`);
    if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ path: axePath });
    const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
    const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    for (const v of result.violations) {
      console.log(`     axe ${name} ${width}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.length} nodes: ${v.nodes.slice(0, 2).map((n) => n.target).join(" ")})`);
    }
    check(serious.length === 0, `${name} at ${width} px: axe-core finds no serious or critical violation (${serious.map((v) => v.id).join(", ")}); screenshot ${file}`);
  }
  // The narrowest phones too (no screenshot): still no sideways scrolling.
  await page.setViewportSize({ width: 320, height: 900 });
  await no_sideways_scroll(page, `${name} at 320 px`);
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function no_sideways_scroll(page, what) {
  const { scroll, client } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  check(scroll <= client, `${what}: no sideways scrolling (scrollWidth ${scroll}, clientWidth ${client})`);
}

const submit = async (page, name) => Promise.all([page.waitForNavigation(), page.getByRole("button", { name, exact: true }).click()]);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  chromiumSandbox: false,
  args: [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  // bypassCSP: axe-core is injected as a script tag, which the pages' own
  // Content-Security-Policy (default-src 'none', issue 19) rightly blocks;
  // the policy itself is checked by the real suites' header tests.
  const context = await browser.newContext({ locale: "vi-VN", viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const page = await context.newPage();
  page.on("response", (r) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) page.lastStatus = r.status();
  });

  // 0. Dark mode (prefers-color-scheme: dark): the index and a form page,
  // axe-core's contrast checks included.
  const dark = await browser.newContext({ locale: "vi-VN", colorScheme: "dark", viewport: { width: 390, height: 900 }, bypassCSP: true });
  const night = await dark.newPage();
  night.on("response", (r) => {
    if (r.request().isNavigationRequest() && r.frame() === night.mainFrame()) night.lastStatus = r.status();
  });
  await night.goto(base);
  await page_checked(night, "index-dark", { status: 200 });
  await night.goto(base + "manage");
  await page_checked(night, "manage-dark", { status: 200, heading: "Quản lý đăng ký" });
  await dark.close();

  // An English reader (Accept-Language en-GB): the English index page.
  const english = await browser.newContext({ locale: "en-GB", viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const reader = await english.newPage();
  reader.on("response", (r) => {
    if (r.request().isNavigationRequest() && r.frame() === reader.mainFrame()) reader.lastStatus = r.status();
  });
  await reader.goto(base);
  check((await reader.getAttribute("html", "lang")) === "en", "index for an English reader: <html lang=en>");
  await page_checked(reader, "index-en", { status: 200 });
  await reader.getByRole("link", { name: "Tiếng Việt" }).click();
  check((await reader.getAttribute("html", "lang")) === "vi", "index: the Tiếng Việt link gives the Vietnamese page");
  await english.close();

  // 1. The index page: newest articles, categories, feeds, the sign-up form.
  await page.goto(base);
  const scripts = await page.locator("script").count();
  check(scripts === 0, `index: no script (${scripts})`);
  await page_checked(page, "index", { status: 200 });
  const feedLinks = await page.locator('link[rel="alternate"]').count();
  check(feedLinks >= 3, `index: ${feedLinks} feed autodiscovery links`);
  const cards = await page.locator(".cards .card").count();
  check(cards > 0, `index: ${cards} newest articles listed`);

  await page.setViewportSize({ width: 1280, height: 900 });
  await page.getByLabel("Địa chỉ thư điện tử").fill(address);
  // The field only programs fill in (a form with it filled is recorded
  // nowhere) is off-screen and out of the keyboard's way.
  await page.keyboard.press("Tab");
  const next = await page.evaluate(() => document.activeElement?.getAttribute("name"));
  check(next === "frequency", `index: Tab from the address goes to the frequency, past the hidden field (${next})`);
  const trap = await page.locator('input[name="homepage"]').boundingBox();
  check(trap !== null && trap.x + trap.width <= 0, `index: the hidden field is off-screen (${JSON.stringify(trap)})`);
  await page.getByLabel("Hằng ngày").check();
  await submit(page, "Đăng ký");
  await page_checked(page, "subscribed", { status: 202, heading: "Vui lòng kiểm tra hộp thư" });

  // 2. The confirmation link from the mail (the sign-up is recorded after
  // the answer, so the state is read once the mail has come): opening it
  // shows a button and changes nothing (as a mail scanner's fetch must
  // not); the button confirms.
  const confirm = mailLink("confirm");
  check(subscriber()?.status === "pending", `state after the form: pending (${JSON.stringify(subscriber())})`);
  check(confirm.startsWith(base + "confirm/"), `confirmation mail links ${confirm}`);
  await page.goto(confirm);
  await page_checked(page, "confirm", { status: 200, heading: "Xác nhận đăng ký" });
  check(subscriber()?.status === "pending", "state after opening the link: still pending");
  await submit(page, "Xác nhận");
  await page_checked(page, "confirmed", { status: 200, heading: "Đăng ký thành công" });
  check(subscriber()?.status === "active", "state after confirming: active");

  // 3. The welcome mail, and a digest sent now (checked by check_mail.py).
  const preferences = mailLink("preferences", "chào mừng");
  check(preferences.startsWith(base + "preferences/"), `welcome mail links ${preferences}`);
  execFileSync(bantin, ["digest", "run", "--now", "--config", config], { stdio: "inherit", env: { ...process.env, BANTIN_LOG: "warn" } });

  // 4. The preferences page from the welcome mail: choices saved.
  await page.goto(preferences);
  await page_checked(page, "preferences", { status: 200, heading: "Tùy chọn bản tin" });
  const instant = (await page.locator('input[name="frequency"][value="instant"]').count()) > 0;
  const frequency = instant ? "instant" : "weekly";
  await page.getByLabel("Nông nghiệp").check();
  await page.locator(`input[name="frequency"][value="${frequency}"]`).check();
  await submit(page, "Lưu");
  await page_checked(page, "preferences-saved", { status: 200, heading: "Đã lưu" });
  const saved = subscriber();
  check(saved?.frequency === frequency, `state after saving: ${frequency} (${JSON.stringify(saved)})`);
  check(JSON.stringify(saved?.topics) === JSON.stringify(["nong-nghiep"]), `state after saving: topics nong-nghiep`);
  await page.goto(preferences);
  check(await page.getByLabel("Nông nghiệp").isChecked(), "preferences page shows the saved topic");
  check(await page.locator(`input[name="frequency"][value="${frequency}"]`).isChecked(), "preferences page shows the saved frequency");

  // 5. /manage: the form, its answer, and the mail with the link.
  await page.goto(base + "manage");
  await page_checked(page, "manage", { status: 200, heading: "Quản lý đăng ký" });
  await page.getByLabel("Địa chỉ thư điện tử").fill(address);
  await submit(page, "Gửi liên kết");
  await page_checked(page, "manage-sent", { status: 202, heading: "Vui lòng kiểm tra hộp thư" });
  const managed = mailLink("preferences", "liên kết quản lý");
  check(managed.startsWith(base + "preferences/"), `manage mail links ${managed}`);
  await page.goto(base + "manage?lang=en");
  await page_checked(page, "manage-en", { status: 200, heading: "Manage your subscription" });

  // 6. The digest's unsubscribe page (looked at, not pressed), then
  // "unsubscribe from everything" on the preferences page.
  const unsubscribe = mailLink("unsubscribe", "bài mới");
  await page.goto(unsubscribe);
  await page_checked(page, "unsubscribe", { status: 200, heading: "Hủy đăng ký bản tin" });
  check(subscriber()?.status === "active", "state after opening the unsubscribe page: still active");
  await page.goto(managed);
  await submit(page, "Hủy đăng ký tất cả");
  await page_checked(page, "unsubscribed", { status: 200, heading: "Đã hủy đăng ký" });
  check(subscriber()?.status === "unsubscribed", "state after 'unsubscribe from everything': unsubscribed");
  // The way back from an unsubscribe by mistake: the page's link, the
  // preferences page saying how, and its save.
  await page.getByRole("link", { name: "Hủy nhầm? Đăng ký lại" }).click();
  await page_checked(page, "preferences-after-leaving", { status: 200, heading: "Tùy chọn bản tin" });
  await submit(page, "Lưu");
  await page_checked(page, "rejoined", { status: 200, heading: "Đã đăng ký lại" });
  check(subscriber()?.status === "active", "state after coming back from the preferences page: active");

  // 7. A feed opened in the browser (a reader who clicked "RSS" on the
  // portal): the preview page, not raw XML (feeds.browser_view). A web
  // reader's fetch() of the same URL from the page gets the feed itself.
  const feedUrl = base + "feed.xml";
  const opened = await page.goto(feedUrl);
  check((opened?.headers()["content-type"] || "").startsWith("text/html"), `feed.xml opened: content type ${opened?.headers()["content-type"]}`);
  check(/sec-fetch-dest/i.test(opened?.headers()["vary"] || ""), `feed.xml opened: Vary ${opened?.headers()["vary"]}`);
  await page_checked(page, "feed-preview", { status: 200 });
  check((await page.evaluate(() => document.contentType)) === "text/html", "feed.xml opened: a page, not raw XML");
  check((await page.getByLabel(/Địa chỉ nguồn tin/).inputValue()) === feedUrl, "feed preview: the feed's URL to copy");
  const items = await page.locator(".items li").count();
  check(items > 0, `feed preview: ${items} items listed`);
  const fetched = await page.evaluate(async (url) => {
    const r = await fetch(url);
    return { type: r.headers.get("content-type"), text: (await r.text()).slice(0, 200) };
  }, feedUrl);
  check((fetched.type || "").startsWith("application/rss+xml") && fetched.text.includes("<rss"), `fetch() of feed.xml from a page gets the feed (${fetched.type})`);
  await page.goto(base + "categories/du-lich/atom.xml");
  await page_checked(page, "feed-preview-category", { status: 200 });

  // 7b. A web reader on another site (a page of a second origin, served
  // here): the browser lets its fetch() read a feed (CORS), not a page.
  const other = createServer((_, res) => res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>reader</title>"));
  await new Promise((ready) => other.listen(0, "127.0.0.1", ready));
  await page.goto(`http://localhost:${other.address().port}/`);
  const crossFetch = (url, headers = {}) =>
    page.evaluate(async ([url, headers]) => {
      try {
        const r = await fetch(url, { headers });
        return { status: r.status, etag: r.headers.get("etag"), text: await r.text() };
      } catch (e) {
        return { error: String(e) };
      }
    }, [url, headers]);
  const crossFeed = await crossFetch(base + "feed.json");
  const crossItems = crossFeed.text ? JSON.parse(crossFeed.text).items?.length : 0;
  check(crossFeed.status === 200 && crossItems > 0, `fetch() of feed.json from another site: HTTP ${crossFeed.status}, ${crossItems} items ${crossFeed.error || ""}`);
  // A web reader that keeps its own validators: it reads the ETag and asks
  // again with it (a header of its own: the browser's preflight first).
  check(Boolean(crossFeed.etag), `the feed's ETag is readable from another site (${crossFeed.etag})`);
  const again = await crossFetch(base + "feed.json", { "If-None-Match": crossFeed.etag || "none" });
  check(again.status === 304, `fetch() with the ETag from another site: HTTP ${again.status} ${again.error || ""}`);
  const crossPage = await crossFetch(base);
  check(crossPage.error !== undefined, `fetch() of the index page from another site is refused by the browser (${crossPage.error || crossPage.status})`);
  other.close();

  // 8. The archive, where this build has the route (built beside this
  // suite): its index and the newest period it lists.
  const archive = await page.goto(base + "archive/");
  if (archive?.status() === 200) {
    await page_checked(page, "archive", { status: 200 });
    const period = await page.locator('a[href*="/archive/daily/"], a[href*="/archive/weekly/"]').first();
    if ((await period.count()) > 0) {
      await page.goto(new URL(await period.getAttribute("href"), base).href);
      await page_checked(page, "archive-period", { status: 200 });
    }
  } else {
    console.log(`     /archive/ answers ${archive?.status()}: not in this build, not checked`);
  }
} catch (e) {
  check(false, `browser journey stopped: ${e.stack || e}`);
} finally {
  await browser.close();
}

console.log(`browser: ${shot} pages checked, ${failures.length} failed checks`);
process.exit(failures.length ? 1 : 0);
