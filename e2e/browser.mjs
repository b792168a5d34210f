// A reader's journey in a real browser: Debian's chromium, driven by
// playwright-core. Opens the index page, subscribes through the form,
// follows the confirmation link from the mail the SMTP sink received and
// presses the button on its page, gets a digest (`bantin digest run
// --now`), changes preferences through the link in the digest,
// unsubscribes through its unsubscribe link, and opens a feed URL (the
// preview page a browser gets instead of raw XML).
// Every page is checked with axe-core (no serious or critical violation)
// and saved as a screenshot in ARTIFACTS. The subscriber's state is read
// back with `bantin subscribers list --format json` after each change.
//
// Usage: node browser.mjs BASE_URL SINK_DIR ADDRESS BANTIN CONFIG ARTIFACTS
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
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

const mailLink = (route) =>
  execFileSync(process.env.PYTHON || "python3", [join(here, "maillib.py"), "link", sink, address, route, "30"], { encoding: "utf8" }).trim();

const subscriber = () => {
  const out = execFileSync(bantin, ["subscribers", "list", "--format", "json", "--config", config], { encoding: "utf8" });
  return JSON.parse(out).find((s) => s.email === address);
};

let shot = 0;
async function page_checked(page, name, { status, heading }) {
  shot += 1;
  const file = join(artifacts, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (status !== undefined) check(page.lastStatus === status, `${name}: HTTP ${page.lastStatus} (want ${status})`);
  if (heading !== undefined) {
    const h1 = (await page.locator("h1").first().textContent())?.trim();
    check(h1 === heading, `${name}: heading ${JSON.stringify(h1)}`);
  }
  check((await page.getAttribute("html", "lang")) !== null, `${name}: <html lang> set`);
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of result.violations) {
    console.log(`     axe ${name}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.length} nodes)`);
  }
  check(serious.length === 0, `${name}: axe-core finds no serious or critical violation (${serious.map((v) => v.id).join(", ")}); screenshot ${file}`);
}

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
  const context = await browser.newContext({ locale: "vi-VN", viewport: { width: 1024, height: 800 }, bypassCSP: true });
  const page = await context.newPage();
  page.on("response", (r) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) page.lastStatus = r.status();
  });

  // 1. The index page, and the sign-up form on it.
  await page.goto(base);
  await page_checked(page, "index", { status: 200 });
  const feedLinks = await page.locator('link[rel="alternate"]').count();
  check(feedLinks >= 3, `index: ${feedLinks} feed autodiscovery links`);

  await page.getByLabel("Địa chỉ thư điện tử").fill(address);
  await page.getByLabel("Hằng ngày").check();
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Đăng ký" }).click()]);
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
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Xác nhận" }).click()]);
  await page_checked(page, "confirmed", { status: 200, heading: "Đăng ký thành công" });
  check(subscriber()?.status === "active", "state after confirming: active");

  // 3. A digest, sent now; its links lead to the preferences and unsubscribe pages.
  execFileSync(bantin, ["digest", "run", "--now", "--config", config], { stdio: "inherit", env: { ...process.env, BANTIN_LOG: "warn" } });
  const preferences = mailLink("preferences");
  await page.goto(preferences);
  await page_checked(page, "preferences", { status: 200, heading: "Tùy chọn bản tin" });
  await page.getByLabel("Nông nghiệp").check();
  await page.getByLabel("Hằng tuần").check();
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Lưu" }).click()]);
  await page_checked(page, "preferences-saved", { status: 200, heading: "Đã lưu" });
  const saved = subscriber();
  check(saved?.frequency === "weekly", `state after saving: weekly (${JSON.stringify(saved)})`);
  check(JSON.stringify(saved?.topics) === JSON.stringify(["nong-nghiep"]), `state after saving: topics nong-nghiep`);
  await page.goto(preferences);
  check(await page.getByLabel("Nông nghiệp").isChecked(), "preferences page shows the saved topic");
  check(await page.getByLabel("Hằng tuần").isChecked(), "preferences page shows the saved frequency");

  // 4. Unsubscribe: the page, then its button.
  const unsubscribe = mailLink("unsubscribe");
  await page.goto(unsubscribe);
  await page_checked(page, "unsubscribe", { status: 200, heading: "Hủy đăng ký bản tin" });
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Hủy đăng ký" }).click()]);
  await page_checked(page, "unsubscribed", { status: 200, heading: "Đã hủy đăng ký" });
  check(subscriber()?.status === "unsubscribed", "state after unsubscribing: unsubscribed");

  // 5. A feed opened in the browser (a reader who clicked "RSS" on the
  // portal): the preview page, not raw XML (feeds.browser_view); on a
  // phone's width too. A web reader's fetch() of the same URL from the
  // page gets the feed itself.
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
  await page.setViewportSize({ width: 375, height: 800 });
  await page.goto(base + "categories/du-lich/atom.xml");
  await page_checked(page, "feed-preview-phone", { status: 200 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `feed preview at 375 px: no sideways scrolling (${overflow} px over)`);
} catch (e) {
  check(false, `browser journey stopped: ${e.stack || e}`);
} finally {
  await browser.close();
}

console.log(`browser: ${shot} pages checked, ${failures.length} failed checks`);
process.exit(failures.length ? 1 : 0);
