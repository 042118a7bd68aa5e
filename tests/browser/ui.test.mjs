// Browser tests of the Warden web UI in headless Chromium, with JavaScript
// turned off in the page (the UI must work without it). Run by run.sh,
// which starts a real server with people, a two-person policy and the
// example alerts; every test saves a screenshot.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.WARDEN_URL;
const shots = process.env.WARDEN_SCREENSHOTS;
const password = (name) => process.env[`WARDEN_PASSWORD_${name.toUpperCase()}`];

let browser;

before(async () => {
  assert.ok(base, "WARDEN_URL is set by run.sh");
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    // Playwright starts Chromium with a fresh, empty profile directory of
    // its own each time (it refuses --user-data-dir with launch()).
  });
});

after(async () => {
  await browser?.close();
});

/** A fresh browser context (its own cookies) with scripts off. */
async function session() {
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const violations = [];
  page.on("console", (msg) => {
    if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
  });
  page.violations = violations;
  return { context, page };
}

async function signIn(page, name) {
  await page.goto(`${base}/login`);
  await page.fill("#username", name);
  await page.fill("#password", password(name));
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

test("sign-in: a wrong password is refused, the right one opens the queue", async () => {
  const { context, page } = await session();
  const response = await page.goto(`${base}/cases`);
  // Not signed in: sent to the sign-in page.
  assert.match(page.url(), /\/login/);
  const csp = response.headers()["content-security-policy"];
  assert.match(csp, /default-src 'none'/);
  assert.doesNotMatch(csp, /script-src/);

  await page.fill("#username", "alice");
  await page.fill("#password", "not-her-password");
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  assert.match(await page.textContent("body"), /Wrong name or password/);
  await shot(page, "01-login-refused");

  await page.fill("#username", "alice");
  await page.fill("#password", password("alice"));
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  assert.match(page.url(), /\/cases/);
  assert.match(await page.textContent("body"), /alice/);
  await shot(page, "02-signed-in");
  assert.deepEqual(page.violations, []);
  await context.close();
});

test("queue: every pushed case is listed, and the severity filter narrows it", async () => {
  const { context, page } = await session();
  await signIn(page, "alice");
  await page.goto(`${base}/cases`);
  const rows = await page.locator("[data-testid=case-row]").count();
  assert.ok(rows >= 5, `at least five cases in the queue, got ${rows}`);
  assert.equal(Number(await page.textContent("[data-testid=case-count]")), rows);
  await shot(page, "03-queue");

  await page.selectOption("[data-testid=filter-severity]", "critical");
  await Promise.all([page.waitForNavigation(), page.click("[data-testid=filter-apply]")]);
  assert.match(page.url(), /severity=critical/);
  const critical = await page.locator("[data-testid=case-row]").count();
  assert.ok(critical >= 1 && critical < rows, `critical ${critical} of ${rows}`);
  const severities = await page.locator("[data-testid=case-row] .badge").allTextContents();
  assert.ok(severities.includes("critical"));
  assert.ok(!severities.includes("informational"), severities.join(","));
  await shot(page, "04-queue-critical");
  assert.deepEqual(page.violations, []);
  await context.close();
});

test("case detail: alerts, evidence with sources, the assessment citing it, the timeline", async () => {
  const { context, page } = await session();
  await signIn(page, "alice");
  await page.goto(`${base}/cases?state=awaiting_approval`);
  await Promise.all([page.waitForNavigation(), page.click("[data-testid=case-link] >> nth=0")]);
  assert.match(page.url(), /\/cases\/case-/);
  assert.ok((await page.textContent("[data-testid=case-title]")).trim().length > 0);
  assert.ok(await page.locator("[data-testid=alert]").count() >= 1);
  assert.ok(await page.locator("[data-testid=evidence]").count() >= 1, "evidence rows");
  assert.ok(await page.locator("[data-testid=rationale]").count() >= 1, "rationale rows");
  assert.ok(await page.locator("[data-testid=timeline-entry]").count() >= 3, "timeline");
  assert.match(await page.textContent("[data-testid=assessment-verdict]"), /malicious|suspicious|benign|false_positive|unknown/);
  await shot(page, "05-case-detail");
  assert.deepEqual(page.violations, []);
  await context.close();
});

/** Open the pending card whose title mentions `action`. */
async function openCard(page, action) {
  await page.goto(`${base}/approvals`);
  const link = page.locator("[data-testid=approval-link]", { hasText: action }).first();
  assert.ok(await link.count() === 1, `a pending ${action} request`);
  await Promise.all([page.waitForNavigation(), link.click()]);
  await shot(page, `card-${action}`);
  return page.url();
}

test("two-person approval: one analyst is not enough, the same one twice is refused, a second makes it ready", async () => {
  const a = await session();
  await signIn(a.page, "alice");
  const card = await openCard(a.page, "net.block_indicator");
  assert.match(await a.page.textContent("[data-testid=card-progress]"), /0 of 2/);
  assert.ok((await a.page.textContent("[data-testid=card-side-effects]")).trim().length > 0);
  assert.ok((await a.page.textContent("[data-testid=card-rollback]")).trim().length > 0);
  await shot(a.page, "06-card-before");

  await Promise.all([a.page.waitForNavigation(), a.page.click("[data-testid=approve-submit]")]);
  assert.match(await a.page.textContent("[data-testid=card-progress]"), /1 of 2/);
  assert.match(await a.page.textContent("[data-testid=card-status]"), /pending/);

  // The same person again: refused, and still one of two.
  await a.page.goto(card);
  await Promise.all([a.page.waitForNavigation(), a.page.click("[data-testid=approve-submit]")]);
  assert.match(await a.page.textContent("[data-testid=error]"), /already answered/);
  assert.match(await a.page.textContent("[data-testid=card-progress]"), /1 of 2/);
  await shot(a.page, "07-card-same-person-refused");

  const b = await session();
  await signIn(b.page, "bob");
  await b.page.goto(card);
  await Promise.all([b.page.waitForNavigation(), b.page.click("[data-testid=approve-submit]")]);
  assert.match(await b.page.textContent("[data-testid=card-progress]"), /2 of 2/);
  const status = await b.page.textContent("[data-testid=card-status]");
  // Ready for the executor, or already run by it.
  assert.match(status, /ready|executed/);
  const answers = await b.page.locator("[data-testid=answer]").allTextContents();
  assert.equal(answers.length, 2);
  assert.ok(answers.some((t) => t.includes("alice")) && answers.some((t) => t.includes("bob")));
  await shot(b.page, "08-card-two-approvals");
  assert.deepEqual(a.page.violations, []);
  assert.deepEqual(b.page.violations, []);
  await a.context.close();
  await b.context.close();
});

test("rejection: a reason and a note are kept on the card", async () => {
  const { context, page } = await session();
  await signIn(page, "carol");
  await openCard(page, "idp.revoke_sessions");
  await page.selectOption("[data-testid=reject-reason]", "too_disruptive");
  await page.fill("[data-testid=reject-note]", "Revoking the admin's sessions mid-change would break the rollout; watching instead.");
  await Promise.all([page.waitForNavigation(), page.click("[data-testid=reject-submit]")]);
  assert.match(await page.textContent("[data-testid=card-status]"), /rejected/);
  const answers = (await page.locator("[data-testid=answer]").allTextContents()).join("\n");
  assert.match(answers, /carol/);
  assert.match(answers, /too_disruptive/);
  assert.match(answers, /watching instead/);
  await shot(page, "09-card-rejected");
  assert.deepEqual(page.violations, []);
  await context.close();
});

test("kill switch: a lead pauses everything and resumes; a viewer has no switch and is refused", async () => {
  const { context, page } = await session();
  await signIn(page, "carol");
  await page.goto(`${base}/use-cases`);
  assert.ok(await page.locator("[data-testid=global-running]").count() === 1);
  await page.fill("#pause-all-reason", "Suspected compromise of the SOAR host");
  await Promise.all([page.waitForNavigation(), page.click("[data-testid=pause-all]")]);
  assert.ok(await page.locator("[data-testid=global-paused]").count() === 1);
  assert.match(await page.textContent("[data-testid=pauses]"), /Suspected compromise/);
  await shot(page, "10-kill-switch-pulled");

  const viewer = await session();
  await signIn(viewer.page, "dave");
  await viewer.page.goto(`${base}/use-cases`);
  assert.equal(await viewer.page.locator("[data-testid=pause-all]").count(), 0);
  assert.equal(await viewer.page.locator("[data-testid=resume-all]").count(), 0);
  // Posting the form anyway (with the viewer's own CSRF token) is refused.
  const csrf = await viewer.page.getAttribute("form[action='/logout'] input[name=csrf]", "value");
  const refused = await viewer.page.request.post(`${base}/kill-switch/resume`, {
    form: { csrf, reason: "viewer tries" },
    maxRedirects: 0,
  });
  assert.equal(refused.status(), 403);
  await viewer.context.close();

  await page.fill("#resume-all-reason", "Host rebuilt and verified");
  await Promise.all([page.waitForNavigation(), page.click("[data-testid=resume-all]")]);
  assert.ok(await page.locator("[data-testid=global-running]").count() === 1);
  await shot(page, "11-kill-switch-released");
  assert.deepEqual(page.violations, []);
  await context.close();
});

test("audit explorer and metrics page render for a viewer", async () => {
  const { context, page } = await session();
  await signIn(page, "dave");
  await page.goto(`${base}/audit`);
  assert.match(await page.textContent("[data-testid=verification-status]"), /verified/);
  assert.ok(await page.locator("[data-testid=audit-entry]").count() > 10);
  await shot(page, "12-audit");
  await page.goto(`${base}/dashboard`);
  assert.ok(await page.locator("svg").count() >= 4, "four charts");
  await shot(page, "13-dashboard");
  assert.deepEqual(page.violations, []);
  await context.close();
});
