// The admin console in a real browser (Debian's chromium, playwright-core):
// an editor logs in with the token, finds a subscriber whom a hard bounce
// suppressed, lifts the suppression, previews their next digest and sends
// it as a test to their own address, which the SMTP sink must receive;
// then the outbox page. Every page at 1280 px and 390 px: a screenshot,
// no horizontal scroll at 390 px, axe-core with no serious or critical
// violation. The subscriber's state is read back with
// `bantin subscribers list --format json`.
//
// Usage: node admin.mjs BASE_URL SINK_DIR BANTIN CONFIG TOKEN SUPPRESSED EDITOR ARTIFACTS
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [base, sink, bantin, config, token, suppressed, editor, artifacts] = process.argv.slice(2);
const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
mkdirSync(artifacts, { recursive: true });

const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
  return ok;
};
const subscriber = (email) =>
  JSON.parse(execFileSync(bantin, ["subscribers", "list", "--format", "json", "--config", config], { encoding: "utf8" })).find((s) => s.email === email);
const mailsTo = (address) =>
  readdirSync(sink).filter((f) => f.endsWith(".json")).filter((f) => JSON.parse(readFileSync(join(sink, f), "utf8")).rcpt_tos.includes(address)).length;

async function checked(page, name, width) {
  const file = join(artifacts, `admin-${name}-${width}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (width < 500) {
    const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    check(scroll <= client, `admin ${name} at ${width} px: no horizontal scroll (${scroll} <= ${client})`);
  }
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  for (const v of result.violations) console.log(`     axe admin ${name}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.length} nodes)`);
  const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(serious.length === 0, `admin ${name} at ${width} px: axe-core finds no serious or critical violation (${serious.map((v) => v.id).join(", ")}); screenshot ${file}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  chromiumSandbox: false,
  args: ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  for (const width of [1280, 390]) {
    const context = await browser.newContext({ locale: "vi-VN", viewport: { width, height: 900 }, bypassCSP: true });
    const page = await context.newPage();
    let status = 0;
    page.on("response", (r) => {
      if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) status = r.status();
    });

    await page.goto(base + "admin/");
    check(page.url().endsWith("/admin/login"), `admin at ${width} px: a stranger is sent to the login page (${page.url()})`);
    await checked(page, "login", width);
    await page.getByLabel(/Mã truy cập/).fill("wrong-" + token);
    await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Đăng nhập" }).click()]);
    check(status === 401, `admin at ${width} px: a wrong token is refused (${status})`);
    await page.getByLabel(/Mã truy cập/).fill(token);
    await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Đăng nhập" }).click()]);
    check(status === 200 && (await page.locator("h1").textContent()) === "Tổng quan", `admin at ${width} px: logged in to the dashboard`);
    await checked(page, "dashboard", width);

    await page.getByRole("link", { name: "Người đăng ký" }).click();
    await page.getByLabel("Tìm theo địa chỉ").fill(suppressed.split("@")[0]);
    await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Tìm" }).click()]);
    await checked(page, "subscribers", width);
    await Promise.all([page.waitForNavigation(), page.getByRole("link", { name: suppressed }).click()]);
    await checked(page, "subscriber", width);

    if (width === 1280) {
      check(subscriber(suppressed)?.status === "suppressed", `before: ${suppressed} is suppressed (${subscriber(suppressed)?.status})`);
      await page.getByLabel("Nhận lại thư (gỡ chặn sau lỗi)").check();
      await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Lưu" }).click()]);
      check((await page.getByRole("status").textContent())?.includes("Đã lưu"), "the change is confirmed on the page");
      check(subscriber(suppressed)?.status === "active", `after lifting: ${suppressed} is active (${subscriber(suppressed)?.status})`);

      const [preview] = await Promise.all([page.waitForNavigation(), page.getByRole("link", { name: /Xem trước/ }).click()]);
      check(preview?.status() === 200 && (await page.content()).includes("Đọc tiếp"), `the preview shows the next digest (${preview?.status()})`);
      await page.goBack();

      const before = mailsTo(editor);
      await page.getByLabel("Gửi thử bản tin này tới địa chỉ").fill(editor);
      await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Gửi thử" }).click()]);
      check((await page.getByRole("status").textContent())?.includes("Đã gửi thư thử"), "the test send is confirmed on the page");
      let received = 0;
      for (let i = 0; i < 100 && received <= before; i++) {
        received = mailsTo(editor);
        await new Promise((r) => setTimeout(r, 100));
      }
      check(received === before + 1, `the SMTP sink received the test send to ${editor} (${received - before})`);
    }

    await page.getByRole("link", { name: "Hộp thư đi" }).click();
    await checked(page, "outbox", width);
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(failures.length ? `${failures.length} admin console check(s) failed` : "admin console: every check passed");
process.exit(failures.length ? 1 : 0);
