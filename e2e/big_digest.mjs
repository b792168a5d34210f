// A digest of 200 articles (e2e/big_digest.py wrote its HTML part) opened in
// Chromium as a webmail would show it: at 1280 and 390 px, a screenshot, no
// sideways scrolling at 390 px, and every article link in place.
//
// Usage: node big_digest.mjs HTML_FILE ARTIFACTS
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const [file, artifacts] = process.argv.slice(2);
mkdirSync(artifacts, { recursive: true });
const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
};
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  chromiumSandbox: false,
  args: ["--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  for (const width of [1280, 390]) {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    // Images are not fetched (the example host does not exist): the layout
    // must hold without them, as in a mail client that blocks images.
    await page.route("**/*", (r) => (r.request().url().startsWith("file:") ? r.continue() : r.abort()));
    await page.goto(pathToFileURL(file).href);
    const shot = join(artifacts, `digest-200-${width}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    const links = await page.locator('a[href^="https://yenbai.example.vn/"]').count();
    check(links >= 200, `digest of 200 at ${width} px: ${links} article links; screenshot ${shot}`);
    if (width < 500) {
      const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
      check(scroll <= client, `digest of 200 at ${width} px: no sideways scrolling (${scroll} <= ${client})`);
    }
    await page.close();
  }
} finally {
  await browser.close();
}
process.exit(failures.length ? 1 : 0);
