// Browser tests of the Warden web UI in headless Chromium, with JavaScript
// turned off in the page (the UI must work without it). Run by run.sh,
// which starts a real server with people, a two-person policy and the
// example alerts; every test saves a screenshot.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";

const require = createRequire(import.meta.url);

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
async function session(options = {}) {
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 }, ...options });
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
  // Ready for the executor, or what became of it: never a bare
  // "executed", and a failure or a refusal with its reason.
  assert.match(status, /^(ready|succeeded|failed|refused)$/);
  if (/failed|refused/.test(status)) {
    assert.ok((await b.page.textContent("[data-testid=card-status-detail]")).trim().length > 0);
  }
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

// ---- issue 22: a queue to work, pages that tell the truth ----

const RANK = { informational: 0, low: 1, medium: 2, high: 3, critical: 4 };

test("queue: open cases by severity then age; search, sort and pages are links that keep the view", async () => {
  const { context, page } = await session();
  await signIn(page, "alice");
  await page.goto(`${base}/cases`);
  const severities = await page.locator("[data-testid=case-row] [data-testid=case-severity]").allTextContents();
  assert.ok(severities.length >= 3, severities.join(","));
  for (let i = 1; i < severities.length; i++) {
    assert.ok(RANK[severities[i - 1].trim()] >= RANK[severities[i].trim()], `highest first: ${severities.join(",")}`);
  }
  const states = await page.locator("[data-testid=case-row] [data-testid=case-state]").allTextContents();
  assert.ok(!states.some((s) => s === "closed" || s === "auto_closed"), `open cases only: ${states.join(",")}`);
  const open = Number(await page.textContent("[data-testid=case-count]"));
  await shot(page, "14-queue-default");

  // One search box: a host from the queue finds its cases (in any state).
  const host = (await page.locator("[data-testid=case-row] td:nth-child(6)").allTextContents())
    .map((t) => t.trim().split(" ")[0]).find((t) => t.length > 0);
  assert.ok(host, "some case names a host");
  await page.fill("[data-testid=queue-search]", host);
  await page.selectOption("[data-testid=filter-state]", "");
  await Promise.all([page.waitForNavigation(), page.click("[data-testid=filter-apply]")]);
  assert.match(page.url(), /[?&]q=/);
  const found = Number(await page.textContent("[data-testid=case-count]"));
  assert.ok(found >= 1, `the search finds ${host}`);
  const hosts = await page.locator("[data-testid=case-row]").allTextContents();
  assert.ok(hosts.every((row) => row.length > 0));
  await shot(page, "15-queue-search");

  // A column heading sorts, a second click reverses; the search stays.
  await Promise.all([page.waitForNavigation(), page.click("[data-testid=sort-Age]")]);
  assert.match(page.url(), /sort=age/);
  assert.match(page.url(), /[?&]q=/);
  assert.equal(await page.getAttribute("th:has([data-testid=sort-Age])", "aria-sort"), "ascending");
  await Promise.all([page.waitForNavigation(), page.click("[data-testid=sort-Age]")]);
  assert.match(page.url(), /sort=-age/);
  assert.equal(await page.getAttribute("th:has([data-testid=sort-Age])", "aria-sort"), "descending");
  // The link is the view: opening it again shows the same.
  const saved = page.url();
  const again = await session();
  await signIn(again.page, "alice");
  await again.page.goto(saved);
  assert.equal(Number(await again.page.textContent("[data-testid=case-count]")), found);
  assert.equal(await again.page.inputValue("[data-testid=queue-search]"), host);
  await again.context.close();
  assert.ok(open >= 1);
  assert.deepEqual(page.violations, []);
  await context.close();
});

test("case page: why it is with people, the decisions waiting for this person on top, answered in place", async () => {
  const { context, page } = await session();
  await signIn(page, "carol");
  await page.goto(`${base}/cases?state=awaiting_approval`);
  const links = page.locator("[data-testid=case-link]");
  const hrefs = [];
  for (let i = 0; i < await links.count(); i++) hrefs.push(await links.nth(i).getAttribute("href"));
  assert.ok(hrefs.length >= 1, "cases await approval");
  // The first of them with a decision carol may take.
  let waiting = 0;
  for (const href of hrefs) {
    await page.goto(`${base}${href}`);
    waiting = await page.locator("[data-testid=waiting-decision]").count();
    if (waiting > 0) break;
  }
  assert.ok(waiting >= 1, "a decision waits for carol");
  const caseUrl = page.url().split("?")[0];
  assert.ok(await page.locator("[data-testid=escalation-reason]").count() >= 1, "the escalation reasons are shown");
  // The waiting section comes before the alerts.
  const order = await page.locator("[data-testid=waiting], [data-testid=alert]").first().getAttribute("data-testid");
  assert.equal(order, "waiting");
  await shot(page, "16-case-waiting");
  await Promise.all([page.waitForNavigation(), page.click("[data-testid=waiting-approve] >> nth=0")]);
  assert.equal(page.url().split("?")[0], caseUrl, "back on the case, not the card");
  assert.match(await page.textContent("[data-testid=flash]"), /Approved/);
  assert.equal(await page.locator("[data-testid=waiting-decision]").count(), waiting - 1);
  await shot(page, "17-case-approved-in-place");
  assert.deepEqual(page.violations, []);
  await context.close();
});

test("closing: no default verdict, an override needs a reason, and the queue then shows the person's verdict", async () => {
  const { context, page } = await session();
  await signIn(page, "alice");
  await page.goto(`${base}/cases?state=escalated`);
  if (await page.locator("[data-testid=case-link]").count() === 0) await page.goto(`${base}/cases`);
  await Promise.all([page.waitForNavigation(), page.click("[data-testid=case-link] >> nth=0")]);
  const caseUrl = page.url().split("?")[0];
  const caseId = caseUrl.split("/").pop();
  assert.equal(await page.inputValue("[data-testid=close-verdict]"), "", "no verdict chosen by default");
  const agent = (await page.textContent("[data-testid=close-agent-verdict]")).trim();
  const mine = agent === "malicious" ? "benign" : "malicious";

  // Without a verdict the browser does not send the form.
  await page.fill("[data-testid=close-note]", "Checked with the host owner.");
  await page.click("[data-testid=close-submit]");
  assert.equal(page.url().split("?")[0], caseUrl);
  assert.equal(await page.locator("#close-verdict:invalid").count(), 1);

  // A verdict that differs from the agent's, without a reason: refused.
  await page.selectOption("[data-testid=close-verdict]", mine);
  await Promise.all([page.waitForNavigation(), page.click("[data-testid=close-submit]")]);
  assert.match(await page.textContent("body"), /differs from the agent/);
  await shot(page, "18-close-refused-without-reason");

  await page.goto(caseUrl);
  await page.selectOption("[data-testid=close-verdict]", mine);
  await page.selectOption("[data-testid=close-reason]", "missing_context");
  await page.fill("[data-testid=close-reason-text]", "the change ticket explains it");
  await page.fill("[data-testid=close-note]", "Checked with the host owner.");
  await Promise.all([page.waitForNavigation(), page.click("[data-testid=close-submit]")]);
  assert.match(await page.textContent("[data-testid=case-state]"), /closed/);
  assert.match(await page.textContent("[data-testid=case-verdict]"), new RegExp(`^${mine}, by alice`));
  assert.match(await page.textContent("[data-testid=case-override-reason]"), /missing_context/);
  await shot(page, "19-case-closed-person-verdict");

  await page.goto(`${base}/cases?state=closed&q=${caseId}`);
  const verdict = await page.textContent("[data-testid=case-row] [data-testid=case-verdict]");
  assert.match(verdict, new RegExp(`${mine}\\s*by alice`));
  assert.match(verdict, new RegExp(`agent said ${agent}`));
  await shot(page, "20-queue-person-verdict");
  assert.deepEqual(page.violations, []);
  await context.close();
});

/** Pages a person works on: the queue, a case, the approvals, a card. */
async function workPages(page) {
  await page.goto(`${base}/cases?state=`);
  const caseHref = await page.getAttribute("[data-testid=case-link] >> nth=0", "href");
  await page.goto(`${base}/approvals?status=all`);
  const cardHref = await page.getAttribute("[data-testid=approval-link] >> nth=0", "href");
  return [["queue", "/cases"], ["case", caseHref], ["approvals", "/approvals?status=all"], ["card", cardHref]];
}

test("at 390 px: nothing scrolls the page sideways, the navigation wraps, the skip link is the first Tab stop", async () => {
  // Scripts on in this context only to measure (the pages carry none).
  const { context, page } = await session({ javaScriptEnabled: true, viewport: { width: 390, height: 844 } });
  await signIn(page, "alice");
  for (const [name, path] of await workPages(page)) {
    await page.goto(`${base}${path}`);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `${name} is ${width} px wide at 390 px`);
    const nav = await page.locator("nav.main-nav").boundingBox();
    assert.ok(nav && nav.x + nav.width <= 390, `${name}: the navigation fits`);
    await shot(page, `21-phone-${name}`);
  }
  await page.goto(`${base}/cases`);
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), "skip-link");
  await page.keyboard.press("Enter");
  assert.match(page.url(), /#main$/);
  await context.close();
});

test("accessibility: axe-core finds no WCAG 2.2 A or AA violation on the queue, a case, the approvals and a card", async () => {
  // axe is injected by the test, so the page's CSP (no script at all) is
  // bypassed in this context only.
  const { context, page } = await session({ javaScriptEnabled: true, bypassCSP: true });
  await signIn(page, "alice");
  const report = {};
  for (const [name, path] of await workPages(page)) {
    await page.goto(`${base}${path}`);
    await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
    const result = await page.evaluate(() => window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] },
    }));
    report[name] = {
      url: path,
      passes: result.passes.length,
      violations: result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")) })),
    };
  }
  writeFileSync(join(shots, "axe-results.json"), JSON.stringify(report, null, 2));
  for (const [name, r] of Object.entries(report)) {
    assert.deepEqual(r.violations, [], `${name}: ${JSON.stringify(r.violations)}`);
    assert.ok(r.passes > 10, `${name}: axe ran its checks`);
  }
  await context.close();
});
