// The shopper's walk through the demo in headless Chromium: sign in, wait
// for the button, buy, see the success, try again and meet "one per
// customer"; a shopper buys the tee, sold in async mode, and waits in
// line until the queue delivers it; a second shopper buys the last unit; a third
// visitor meets
// the sold-out page, the ended and the not-yet-started sales in their own
// time zone, and a rate-limited page that loads itself again after its
// Retry-After. Run by e2e/browser_test.go against a demo gateway whose
// phone sale has two units:
//
//   BASE=http://127.0.0.1:8080 OUT=artifacts node shop.mjs
//
// Screenshots go to $OUT. Any failed expectation exits non-zero.
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const base = process.env.BASE;
const out = process.env.OUT || "artifacts";
const exe = process.env.CHROMIUM || "/usr/bin/chromium";
if (!base) {
  console.error("BASE (the gateway's URL) is required");
  process.exit(2);
}
mkdirSync(out, { recursive: true });

// Without the background-networking flags Chromium's own connections are
// refused in sandboxed CI; each visitor gets a fresh profile.
const args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

function step(msg) { console.log("step: " + msg); }
function check(ok, msg) { if (!ok) { throw new Error(msg); } }

async function visitor(name, fn) {
  const profile = mkdtempSync(join(tmpdir(), "flashgate-chromium-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: exe, headless: true, args,
    locale: "en-GB", timezoneId: "Asia/Shanghai", viewport: { width: 960, height: 640 },
  });
  const missing = [];
  ctx.on("response", (r) => { if (r.status() === 404) { missing.push(r.url()); } });
  try {
    const page = ctx.pages()[0] || (await ctx.newPage());
    page.setDefaultTimeout(15000);
    page.on("pageerror", (e) => { missing.push("script error: " + e.message); });
    await fn(page);
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
  check(missing.length === 0, name + ": " + missing.join(", "));
}

async function buttonIs(page, label, enabled) {
  await page.waitForFunction(([label, enabled]) => {
    const b = document.getElementById("buy");
    return b && b.textContent === label && b.disabled === !enabled && !b.hidden;
  }, [label, enabled]);
}

async function resultSays(page, text) {
  await page.waitForFunction((text) => document.getElementById("result").textContent.includes(text), text);
  return page.textContent("#result");
}

async function signIn(page, user, product = "phone-x") {
  await page.fill("#user", user);
  await Promise.all([page.waitForURL(base + "/p/" + product), page.click("button[type=submit]")]);
  await page.waitForFunction((u) => document.getElementById("who").textContent === "Signed in as " + u, user);
}

await visitor("alice", async (page) => {
  const tokens = [];
  page.on("request", (r) => { if (r.url().includes("/token")) { tokens.push(r.url()); } });

  step("an anonymous visitor sees the page and a sign-in button, and asks for no token");
  await page.goto(base + "/p/phone-x");
  await page.waitForFunction(() => document.getElementById("phase").textContent === "On sale now");
  await buttonIs(page, "Sign in to buy", true);
  check((await page.textContent("#stock")) === "2 left", "stock: " + (await page.textContent("#stock")));
  check(await page.isVisible("img[src='/assets/phone-x.svg']"), "no product image");
  check((await page.textContent("header .shop")) === "Flash Shop", "no shop header");
  await page.waitForTimeout(2500); // a status poll or two: still no token request
  check(tokens.length === 0, "anonymous visitor asked for tokens: " + tokens.join(", "));
  await page.screenshot({ path: join(out, "product.png") });

  step("sign in");
  await Promise.all([page.waitForURL(/\/login\?next=/), page.click("#buy")]);
  check((await page.textContent("h1")) === "Sign in", "no sign-in heading");
  await page.fill("#user", "alice");
  await page.screenshot({ path: join(out, "sign-in.png") });
  await Promise.all([page.waitForURL(base + "/p/phone-x"), page.click("button[type=submit]")]);
  await page.waitForFunction(() => document.getElementById("who").textContent === "Signed in as alice");

  step("the button waits for the order token to be usable, then buys");
  await buttonIs(page, "Buy now", true);
  check(tokens.length >= 1, "no order token fetched after sign-in");
  await page.click("#buy");
  const won = await resultSays(page, "Got it!");
  check(/^Got it! Order o-\d+ is yours\.$/.test(won), "success message: " + won);
  await buttonIs(page, "It is yours", false);
  await page.waitForFunction(() => document.getElementById("stock").textContent === "1 left");
  await page.screenshot({ path: join(out, "success.png") });

  step("trying again meets one per customer");
  await page.reload();
  await buttonIs(page, "Buy now", true);
  await page.click("#buy");
  await resultSays(page, "One per customer");
  await buttonIs(page, "One per customer", false);
});

await visitor("dave", async (page) => {
  // The async buy flow (peak shaving), for real: the demo sells the tee in
  // async mode, so the gateway answers 202 with a ticket and a poll URL,
  // the page waits in line and polls until the queue has delivered the
  // order to the demo backend.
  step("async mode: a queued purchase waits in line, then is delivered");
  await page.goto(base + "/login?next=%2Fp%2Ftee");
  await signIn(page, "dave", "tee");
  await buttonIs(page, "Buy now", true);
  const accepted = page.waitForResponse((r) => /\/api\/buy\/tee-sale\//.test(r.url()));
  await page.click("#buy");
  const r = await accepted;
  check(r.status() === 202, "async purchase answered " + r.status());
  const ticket = (await r.json()).ticket;
  check(/^tee-sale:dave:\d+$/.test(ticket), "ticket: " + ticket);
  await resultSays(page, "You are in line");
  const won = await resultSays(page, "Got it!");
  check(/^Got it! Order o-\d+ is yours\.$/.test(won), "async success message: " + won);
  await buttonIs(page, "It is yours", false);

  // A failed order cannot be caused from the browser (the demo backend
  // accepts every order), so the purchase and its poll are answered
  // here, in the browser, for this one: the page's failure state against
  // the contract of README's order_status table.
  step("async mode: a queued purchase that fails says so, and the button comes back");
  const polls = [{ status: "queued" }, { status: "failed", reason: "backend_rejected" }];
  await page.route(/\/api\/buy\//, (route) => {
    route.fulfill({ status: 202, contentType: "application/json",
      body: JSON.stringify({ ticket: "t-2", status: "queued", poll: "/api/orders/t-2" }) });
  });
  await page.route(/\/api\/orders\/t-2$/, (route) => {
    route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(polls.shift() || { status: "queued" }) });
  });
  await page.goto(base + "/p/phone-x");
  await buttonIs(page, "Buy now", true);
  await page.click("#buy");
  const failed = await resultSays(page, "could not be placed");
  check(failed.includes("(backend_rejected)") && failed.includes("you can try again"), "async failure message: " + failed);
  await buttonIs(page, "Buy now", true);

  // Unconfirmed: the queue gave up on sends the shop never answered; the
  // unit stays sold, so the page must not invite a second purchase.
  step("async mode: an unconfirmed order says so, and the button stays off");
  polls.push({ status: "queued" }, { status: "failed", reason: "unconfirmed" });
  await page.click("#buy");
  const unconfirmed = await resultSays(page, "not confirmed");
  check(unconfirmed.includes("please do not buy again") && !unconfirmed.includes("Nothing was taken"), "unconfirmed message: " + unconfirmed);
  await buttonIs(page, "Order not confirmed", false);
});

await visitor("bob", async (page) => {
  step("a second shopper comes from the home page and buys the last unit");
  await page.goto(base + "/");
  check((await page.locator("main li a").count()) === 4, "home page does not list 4 products");
  await Promise.all([page.waitForURL(base + "/p/phone-x"), page.click("text=Phone X")]);
  await Promise.all([page.waitForURL(/\/login\?next=/), page.click("#buy")]);
  await signIn(page, "bob");
  await buttonIs(page, "Buy now", true);
  await page.click("#buy");
  await resultSays(page, "Got it!");
  await page.waitForFunction(() => document.getElementById("phase").textContent === "Sold out");
});

await visitor("carol", async (page) => {
  step("another visitor signs in and finds it sold out");
  await page.goto(base + "/login?next=%2Fp%2Fphone-x");
  await signIn(page, "carol");
  await page.waitForFunction(() => document.getElementById("phase").textContent === "Sold out");
  await buttonIs(page, "Sold out", false);
  check((await page.textContent("#stock")) === "", "sold out still shows a stock count");
  await page.screenshot({ path: join(out, "sold-out.png") });

  step("an ended sale shows no stock and no button");
  await page.goto(base + "/p/mug");
  await page.waitForFunction(() => document.getElementById("phase").textContent === "This sale has ended");
  check(!(await page.isVisible("#buy")), "ended sale shows a buy button");
  check((await page.textContent("#stock")) === "", "ended sale shows stock");

  step("a sale not started yet shows its opening in the shopper's time zone");
  await page.goto(base + "/p/watch-s");
  await page.waitForFunction(() => document.getElementById("phase").textContent === "Not started yet");
  const when = await page.textContent("#when");
  check(when === "Opens 1 Jan 2030, 20:00", "local opening time: " + when); // 12:00 UTC in Shanghai
  check((await page.textContent("#countdown")).length > 0, "no countdown");
  await buttonIs(page, "Not started yet", false);

  step("a rate-limited page tries again by itself after Retry-After");
  const tokenURL = base + "/api/activities/phone-sale/token";
  let limited = null;
  for (let i = 0; i < 20 && !limited; i++) {
    const r = await page.goto(tokenURL);
    if (r.status() === 429) { limited = r; }
  }
  check(limited, "no 429 after 20 quick requests");
  check((await page.textContent("h1")) === "Too many requests", "rate-limited heading: " + (await page.textContent("h1")));
  const after = Number(limited.headers()["retry-after"]);
  check(after >= 1, "no Retry-After");
  check((await page.textContent("#retry")).includes("tries again by itself"), "no retry note");
  await page.screenshot({ path: join(out, "rate-limited.png") });
  const t0 = Date.now();
  await page.waitForRequest((r) => r.url() === tokenURL && r.isNavigationRequest(), { timeout: (after + 10) * 1000 });
  check(Date.now() - t0 >= (after - 1) * 1000, "reloaded before Retry-After");
});

console.log("ok: the shopper's walk passed; screenshots in " + out);
