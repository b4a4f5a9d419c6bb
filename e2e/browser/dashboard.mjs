// The operator's screen in headless Chromium: the admin dashboard signs in
// with the token (kept out of every URL), shows the sale's countdown,
// stock, breaker and queue state, follows a load that e2e/dashboard_browser_test.go
// runs from Go, and pauses and resumes the sale from its buttons. The two
// sides take turns over stdin/stdout, one word a line:
//
//   dashboard.mjs: READY   (the page shows the sale)     Go: starts its load
//   dashboard.mjs: SEEN    (stock fell, admitted/s > 0,  Go: waits for its load to end,
//                           a rejection reason charted)      then PAUSE
//   dashboard.mjs: PAUSED  (clicked Pause, page says so) Go: a purchase gets 503 paused, then RESUME
//   dashboard.mjs: RESUMED (clicked Resume)              Go: a purchase gets 201, then LEFT <n>
//   dashboard.mjs: ok      (the page shows n left)
//
//   ADMIN=http://127.0.0.1:8081 TOKEN=... OUT=artifacts node dashboard.mjs
//
// Screenshots go to $OUT. Any failed expectation exits non-zero.
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const admin = process.env.ADMIN;
const token = process.env.TOKEN;
const out = process.env.OUT || "artifacts";
const exe = process.env.CHROMIUM || "/usr/bin/chromium";
if (!admin || !token) {
  console.error("ADMIN (the admin port's URL) and TOKEN are required");
  process.exit(2);
}
mkdirSync(out, { recursive: true });

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function receive() {
  const { value, done } = await lines.next();
  if (done) { throw new Error("the test closed stdin"); }
  return value.trim();
}
function say(word) { console.log(word); }
function step(msg) { console.log("step: " + msg); }
function check(ok, msg) { if (!ok) { throw new Error(msg); } }

const args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const profile = mkdtempSync(join(tmpdir(), "flashgate-chromium-"));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: exe, headless: true, args, viewport: { width: 1000, height: 620 },
});
const problems = [];
try {
  const page = ctx.pages()[0] || (await ctx.newPage());
  page.setDefaultTimeout(20000);
  page.on("pageerror", (e) => problems.push("script error: " + e.message));
  page.on("request", (r) => { if (r.url().includes(token)) { problems.push("token in a URL: " + r.url()); } });
  let wrongToken = false; // while true, a 401 is what the step expects
  page.on("response", (r) => {
    if (r.status() >= 400 && !(wrongToken && r.status() === 401)) { problems.push(r.status() + " " + r.url()); }
  });
  const card = '.act[data-activity="sale"]';
  const num = (sel) => page.evaluate((s) => { const e = document.querySelector(s); return e ? Number(e.textContent) : NaN; }, sel);

  step("a wrong token is refused and the form stays");
  await page.goto(admin + "/dashboard");
  check(await page.isVisible("#login"), "no token form");
  wrongToken = true;
  await page.fill("#token", "not-the-admin-token");
  await page.click("#login button");
  await page.waitForFunction(() => document.getElementById("err").textContent.includes(": 401 "));
  check(await page.isVisible("#login") && !(await page.isVisible("#bar")), "a wrong token showed the dashboard");
  check((await page.evaluate(() => sessionStorage.getItem("flashgate-admin"))) === null, "a refused token was kept");
  wrongToken = false;

  step("the right token is kept in the tab, and the page shows the sales");
  await page.fill("#token", token);
  await page.click("#login button");
  await page.waitForSelector(card + " .total");
  await page.waitForFunction((c) => document.querySelector(c + " .total").textContent === "200", card);
  check(!(await page.isVisible("#login")), "the token form is still shown");
  check((await page.evaluate(() => sessionStorage.getItem("flashgate-admin"))) === token, "token not in sessionStorage");
  check(!page.url().includes(token), "token in the page URL");
  check((await num(card + " .left")) === 200 && (await num(card + " .sold")) === 0, "stock before the load");
  // The sale ends an hour after the test wrote its config.
  const before = await page.textContent(card + " .count");
  check(/^ends in 00:5\d:\d\d$/.test(before), "countdown: " + before);
  check((await page.textContent(card + " .state")) === "selling", "state: " + (await page.textContent(card + " .state")));
  const later = '.act[data-activity="later"]';
  const opens = await page.textContent(later + " .count");
  check(/^starts in 01:5\d:\d\d$/.test(opens), "countdown of the sale to come: " + opens);
  check((await page.textContent(later + " .phase")) === "not started", "phase of the sale to come");
  check(!(await page.isVisible(later + " .state")), "the sale to come says " + (await page.textContent(later + " .state")));
  await page.waitForFunction(() => {
    const b = document.querySelector('[data-breaker="upstream:orders"]');
    return b && b.textContent === "upstream:orders closed";
  });
  check((await page.textContent("#queue")).startsWith("sync"), "queue: " + (await page.textContent("#queue")));
  say("READY");

  step("the numbers move with the load: stock falls, admitted/s > 0, a rejection reason is charted");
  await page.waitForFunction((c) => {
    const rate = (s) => { const e = document.querySelector(c + ' [data-series="' + s + '"] .rate'); return e ? Number(e.textContent) : 0; };
    return Number(document.querySelector(c + " .left").textContent) < 200 && rate("admitted") > 0 && rate("already_purchased") > 0;
  }, card);
  check((await page.locator(card + " svg polyline").count()) >= 2, "the chart has fewer than two lines");
  // The purchase route, named by default "POST /buy/{activity}" (braces in
  // a label value), has its row in the routes table.
  await page.waitForFunction(() => [...document.querySelectorAll("#routes tbody tr td:first-child")]
    .some((td) => td.textContent === "POST /buy/{activity}"));
  const sold = await num(card + " .sold"), left = await num(card + " .left");
  check(sold > 0 && sold + left === 200, "sold " + sold + " + left " + left + " != total 200");
  // pay_within: nothing is paid in this test, so every unit sold awaits payment.
  check(await page.isVisible(card + " .pay"), "the pay_within line is hidden");
  check(!(await page.isVisible(later + " .pay")), "a pay line on an activity without pay_within");
  await page.waitForFunction((c) => { const n = (s) => document.querySelector(c + " " + s).textContent;
    return n(".held") === n(".sold") && n(".paid") === "0" && n(".unpaid") === "0"; }, card);
  check((await page.textContent(card + " .within")) === "(pay within 00:15:00)", "within: " + (await page.textContent(card + " .within")));
  // The screenshot once most of the load has been charted.
  await page.waitForFunction((c) => Number(document.querySelector(c + " .sold").textContent) >= 120, card);
  await page.screenshot({ path: join(out, "dashboard.png") });
  // Several seconds into the load: the countdown has run.
  const after = await page.textContent(card + " .count");
  check(/^ends in 00:5\d:\d\d$/.test(after) && after < before, "countdown did not run: " + before + " then " + after);
  say("SEEN");

  check((await receive()) === "PAUSE", "expected PAUSE");
  step("Pause stops the sale and the page says so");
  check(await page.isDisabled(card + " .resume"), "resume enabled before the pause");
  await page.click(card + " .pause");
  await page.waitForFunction((c) => document.querySelector(c + " .state").textContent === "paused", card);
  check(await page.isDisabled(card + " .pause"), "pause still enabled while paused");
  check(await page.evaluate((c) => document.querySelector(c).classList.contains("is-paused"), card), "card not marked paused");
  say("PAUSED");

  check((await receive()) === "RESUME", "expected RESUME");
  step("the paused purchase is charted under its reason; Resume lets purchases through again");
  await page.waitForSelector(card + ' [data-series="paused"]');
  await page.screenshot({ path: join(out, "dashboard-paused.png") });
  await page.click(card + " .resume");
  await page.waitForFunction((c) => document.querySelector(c + " .state").textContent === "selling", card);
  say("RESUMED");

  const msg = await receive();
  check(/^LEFT \d+$/.test(msg), "expected LEFT <n>, got " + msg);
  const want = msg.split(" ")[1];
  await page.waitForFunction(([c, n]) => document.querySelector(c + " .left").textContent === n, [card, want]);
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
check(problems.length === 0, problems.join(", "));
say("ok");
