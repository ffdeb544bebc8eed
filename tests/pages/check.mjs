#!/usr/bin/env node
// Page-quality check for Relman's server-rendered pages.
//
//   node tests/pages/check.mjs CONFIG.json
//
// CONFIG.json:
//   {
//     "baseUrl": "http://127.0.0.1:PORT",
//     "outDir": "/tmp/some/dir",                 // created if missing; raw HTML saved here
//     "loginPath": "/login",                     // optional, default "/login"
//     "users": { "manager": {"username": "m", "password": "..."} },
//     "pages": [
//       {"path": "/login", "as": null},          // null/absent: anonymous context
//       {"path": "/", "as": "manager"},          // a key of "users"
//       {"path": "/releases/RL-000001", "as": "manager", "expectStatus": 200}
//     ]
//   }
//
// For each user a fresh browser context signs in through the real login form
// (input[name=username], input[name=password], button[type=submit]); sign-in
// fails if the browser is still on the login path afterwards.
//
// For each page:
//   * the HTTP status must equal expectStatus (default 200). The status of the
//     final response (after redirects) is compared; if expectStatus is a 3xx
//     and the request was redirected, the first response's status is compared.
//   * the raw response body (as sent by the server, not the DOM) is saved to
//     outDir/<sanitised path>__<user>.html,
//   * axe-core runs in the page (tags wcag2a, wcag2aa, wcag21a, wcag21aa,
//     wcag22aa); every violated rule is a failure,
//   * at a 360px-wide viewport the page must not scroll horizontally
//     (reported as rule "horizontal-scroll-360px"),
//   * at the 1280px desktop viewport a region marked data-fits-desktop must not
//     scroll and its first column must be sticky (rule "table-fits-desktop").
// Finally the Nu HTML Checker (vnu.jar, run with the system `java`) checks all
// saved files once; every error is a failure, warnings are ignored.
//
// Exit status: 0 if everything passed, 1 if anything failed, 2 on a usage or
// configuration error. Environment: CHROMIUM (browser binary, default
// /usr/bin/chromium), JAVA (default `java`).

import { chromium } from 'playwright-core';
import vnuJar from 'vnu-jar';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const AXE_PATH = require.resolve('axe-core/axe.min.js');
const VNU_JAR = String(vnuJar);
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const NARROW_WIDTH = 360;
const DESKTOP_VIEWPORT = { width: 1280, height: 800 };
const NAV_TIMEOUT_MS = 30_000;

function usage(msg) {
  if (msg) console.error(`page-quality: ${msg}`);
  console.error('usage: node tests/pages/check.mjs CONFIG.json');
  process.exit(2);
}

function loadConfig(file) {
  let cfg;
  try {
    cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    usage(`cannot read config ${file}: ${e.message}`);
  }
  if (typeof cfg.baseUrl !== 'string' || !/^https?:\/\//.test(cfg.baseUrl)) usage('config: "baseUrl" must be an http(s) URL');
  if (typeof cfg.outDir !== 'string' || !cfg.outDir) usage('config: "outDir" must be a path');
  if (!Array.isArray(cfg.pages) || cfg.pages.length === 0) usage('config: "pages" must be a non-empty array');
  cfg.baseUrl = cfg.baseUrl.replace(/\/+$/, '');
  cfg.users = cfg.users || {};
  cfg.loginPath = cfg.loginPath || '/login';
  for (const [name, u] of Object.entries(cfg.users)) {
    if (!u || typeof u.username !== 'string' || typeof u.password !== 'string') usage(`config: user "${name}" needs "username" and "password"`);
  }
  for (const p of cfg.pages) {
    if (!p || typeof p.path !== 'string' || !p.path.startsWith('/')) usage(`config: page ${JSON.stringify(p)} needs a "path" starting with "/"`);
    if (p.as != null && !(p.as in cfg.users)) usage(`config: page ${p.path} is "as" unknown user "${p.as}"`);
    if (p.expectStatus != null && !Number.isInteger(p.expectStatus)) usage(`config: page ${p.path}: "expectStatus" must be an integer`);
  }
  return cfg;
}

function fileNameFor(page, used) {
  let base = page.path.replace(/^\/+/, '').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+|_+$/g, '');
  if (!base) base = 'root';
  base = `${base.slice(0, 120)}__${page.as == null ? 'anon' : String(page.as).replace(/[^A-Za-z0-9_-]+/g, '_')}`;
  let name = `${base}.html`;
  for (let i = 2; used.has(name); i++) name = `${base}-${i}.html`;
  used.add(name);
  return name;
}

const oneLine = (s, max = 200) => {
  const t = String(s ?? '').replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

async function newContext(browser) {
  const ctx = await browser.newContext({
    // The app sends Content-Security-Policy with script-src 'self'; the axe
    // script is injected inline, which that policy would block.
    bypassCSP: true,
    viewport: DESKTOP_VIEWPORT,
    javaScriptEnabled: true,
  });
  ctx.setDefaultTimeout(NAV_TIMEOUT_MS);
  ctx.setDefaultNavigationTimeout(NAV_TIMEOUT_MS);
  return ctx;
}

async function signIn(browser, cfg, name, user) {
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  try {
    const resp = await page.goto(cfg.baseUrl + cfg.loginPath);
    if (!resp || resp.status() !== 200) throw new Error(`GET ${cfg.loginPath} answered ${resp ? resp.status() : 'nothing'}`);
    const form = page.locator('form').filter({ has: page.locator('input[name="username"]') }).first();
    await form.locator('input[name="username"]').fill(user.username);
    await form.locator('input[name="password"]').fill(user.password);
    const [navResp] = await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      form.locator('button[type="submit"]').first().click(),
    ]);
    const finalPath = new URL(page.url()).pathname;
    if (finalPath === cfg.loginPath || finalPath.startsWith(`${cfg.loginPath}/`)) {
      const status = navResp ? navResp.status() : '?';
      throw new Error(`still on ${page.url()} after submitting the form (status ${status}); wrong credentials?`);
    }
    return ctx;
  } catch (e) {
    await ctx.close();
    throw e;
  } finally {
    if (!page.isClosed()) await page.close().catch(() => {});
  }
}

function redirectChain(response) {
  const chain = [];
  for (let req = response.request().redirectedFrom(); req; req = req.redirectedFrom()) chain.unshift(req);
  return chain;
}

async function checkPage(ctx, cfg, pg, file) {
  const failures = []; // {kind: 'axe'|'other', rule, message, where}
  const page = await ctx.newPage();
  try {
    const expect = pg.expectStatus ?? 200;
    const response = await page.goto(cfg.baseUrl + pg.path, { waitUntil: 'load' });
    if (!response) {
      failures.push({ kind: 'other', rule: 'status', message: 'no response for navigation', where: '' });
      return failures;
    }
    const chain = redirectChain(response);
    let status = response.status();
    if (expect >= 300 && expect < 400 && chain.length > 0) {
      const first = await chain[0].response();
      status = first ? first.status() : status;
    }
    if (status !== expect) {
      const via = chain.length ? ` (redirected to ${page.url()})` : '';
      failures.push({ kind: 'other', rule: 'status', message: `expected HTTP ${expect}, got ${status}${via}`, where: '' });
    }

    const body = await response.text();
    fs.writeFileSync(file, body);

    await page.addScriptTag({ path: AXE_PATH });
    const axe = await page.evaluate(async (tags) => {
      // eslint-disable-next-line no-undef
      const r = await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
      return r.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        helpUrl: v.helpUrl,
        nodes: v.nodes.map((n) => ({ target: n.target.map(String).join(' '), html: n.html, summary: n.failureSummary })),
      }));
    }, AXE_TAGS);
    for (const v of axe) {
      failures.push({
        kind: 'axe',
        rule: v.id,
        impact: v.impact,
        message: v.help,
        helpUrl: v.helpUrl,
        nodes: v.nodes,
      });
    }

    // A table region marked data-fits-desktop (the release list) fits its column at the
    // desktop width, and keeps its first column in view (sticky) when it must scroll.
    const unfit = await page.evaluate(() => [...document.querySelectorAll('[data-fits-desktop]')]
      .map((el) => {
        const first = el.querySelector('tbody tr > :first-child');
        return {
          label: el.getAttribute('aria-label') || el.className,
          scroll: el.scrollWidth,
          client: el.clientWidth,
          sticky: !first || getComputedStyle(first).position === 'sticky',
        };
      })
      .filter((r) => r.scroll > r.client + 1 || !r.sticky));
    for (const r of unfit) {
      failures.push({
        kind: 'axe',
        rule: 'table-fits-desktop',
        impact: 'serious',
        message: `${r.label}: ${r.sticky ? '' : 'first column not sticky; '}content ${r.scroll}px in a ${r.client}px region at ${DESKTOP_VIEWPORT.width}px`,
        nodes: [],
      });
    }

    await page.setViewportSize({ width: NARROW_WIDTH, height: 800 });
    const scroll = await page.evaluate((width) => {
      const el = document.scrollingElement || document.documentElement;
      const scrollWidth = el.scrollWidth;
      const wide = [];
      if (scrollWidth > width + 1) {
        for (const e of document.body ? document.body.querySelectorAll('*') : []) {
          const r = e.getBoundingClientRect();
          if (r.right > width + 1 && r.width > 0) {
            // report outermost offenders only
            if (wide.some((w) => w.el.contains(e))) continue;
            let sel = e.tagName.toLowerCase();
            if (e.id) sel += `#${e.id}`;
            else if (e.classList.length) sel += `.${[...e.classList].join('.')}`;
            wide.push({ el: e, sel, right: Math.round(r.right), html: e.outerHTML.slice(0, 160) });
            if (wide.length >= 5) break;
          }
        }
      }
      return { scrollWidth, wide: wide.map(({ sel, right, html }) => ({ sel, right, html })) };
    }, NARROW_WIDTH);
    if (scroll.scrollWidth > NARROW_WIDTH + 1) {
      failures.push({
        kind: 'axe',
        rule: 'horizontal-scroll-360px',
        impact: 'serious',
        message: `page scrolls horizontally at ${NARROW_WIDTH}px: scrollWidth is ${scroll.scrollWidth}px`,
        nodes: scroll.wide.map((w) => ({ target: w.sel, html: w.html, summary: `right edge at ${w.right}px` })),
      });
    }
  } catch (e) {
    failures.push({ kind: 'other', rule: 'error', message: oneLine(e.message, 500), where: '' });
  } finally {
    await page.close().catch(() => {});
  }
  return failures;
}

function runVnu(files) {
  if (files.length === 0) return { messages: [], error: null };
  const java = process.env.JAVA || 'java';
  const r = spawnSync(java, ['-jar', VNU_JAR, '--errors-only', '--format', 'json', ...files], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) return { messages: [], error: `cannot run ${java}: ${r.error.message}` };
  // vnu writes its report to stderr (stdout only with --stdout); exit status
  // is 1 when there are errors. Accept the JSON from either stream.
  for (const text of [r.stderr, r.stdout]) {
    const start = text ? text.indexOf('{') : -1;
    if (start < 0) continue;
    try {
      const parsed = JSON.parse(text.slice(start));
      if (Array.isArray(parsed.messages)) return { messages: parsed.messages, error: null };
    } catch { /* try the other stream */ }
  }
  return { messages: [], error: `could not parse vnu output (exit ${r.status}): ${oneLine(r.stderr || r.stdout, 500)}` };
}

async function main() {
  const cfgFile = process.argv[2];
  if (!cfgFile || process.argv.length > 3) usage();
  const cfg = loadConfig(cfgFile);
  fs.mkdirSync(cfg.outDir, { recursive: true });

  const results = []; // {page, user, file, failures}
  const loginFailures = [];
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  const browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const contexts = new Map(); // user name (or null) -> context | Error
    const neededUsers = new Set(cfg.pages.map((p) => p.as ?? null));
    for (const name of neededUsers) {
      if (name === null) {
        contexts.set(null, await newContext(browser));
        continue;
      }
      try {
        contexts.set(name, await signIn(browser, cfg, name, cfg.users[name]));
      } catch (e) {
        contexts.set(name, e);
        loginFailures.push({ user: name, message: oneLine(e.message, 500) });
      }
    }

    const used = new Set();
    for (const pg of cfg.pages) {
      const user = pg.as ?? null;
      const file = path.join(cfg.outDir, fileNameFor(pg, used));
      const ctx = contexts.get(user);
      let failures;
      if (ctx instanceof Error) {
        failures = [{ kind: 'other', rule: 'login', message: `not checked: sign-in as "${user}" failed`, where: '' }];
      } else {
        failures = await checkPage(ctx, cfg, pg, file);
      }
      results.push({ page: pg.path, user: user ?? '(anonymous)', file, failures });
    }
    for (const ctx of contexts.values()) if (!(ctx instanceof Error)) await ctx.close();
  } finally {
    await browser.close();
  }

  // Nu HTML Checker over every saved body.
  const saved = results.filter((r) => fs.existsSync(r.file));
  const vnu = runVnu(saved.map((r) => r.file));
  const byFile = new Map(saved.map((r) => [path.resolve(r.file), r]));
  let htmlErrors = 0;
  const vnuOrphans = [];
  for (const m of vnu.messages) {
    if (m.type === 'info') continue; // warnings (not emitted with --errors-only anyway)
    htmlErrors++;
    let target = null;
    if (m.url) {
      try { target = byFile.get(path.resolve(fileURLToPath(m.url))); } catch { /* not a file url */ }
    }
    const line = m.lastLine ?? m.firstLine;
    const failure = {
      kind: 'html',
      rule: m.type === 'non-document-error' ? 'vnu-io' : 'html',
      message: oneLine(m.message, 300),
      where: line != null ? `line ${line}${m.lastColumn != null ? `:${m.lastColumn}` : ''}` : '',
      extract: m.extract,
    };
    if (target) target.failures.push(failure);
    else vnuOrphans.push(failure);
  }
  if (vnu.error) vnuOrphans.push({ kind: 'html', rule: 'vnu', message: vnu.error, where: '' });

  // Report.
  let axeCount = 0;
  let otherCount = loginFailures.length;
  const out = [];
  for (const lf of loginFailures) out.push(`FAIL sign-in as ${lf.user}: ${lf.message}`);
  for (const r of results) {
    if (r.failures.length === 0) {
      out.push(`ok   ${r.page} as ${r.user}`);
      continue;
    }
    out.push(`FAIL ${r.page} as ${r.user}  [${path.basename(r.file)}]`);
    for (const f of r.failures) {
      if (f.kind === 'axe') {
        axeCount++;
        out.push(`     axe ${f.rule} (${f.impact ?? 'n/a'}): ${f.message}${f.helpUrl ? `  <${f.helpUrl}>` : ''}`);
        for (const n of (f.nodes || []).slice(0, 10)) {
          out.push(`         at ${n.target}`);
          if (n.html) out.push(`            ${oneLine(n.html, 160)}`);
          if (n.summary) out.push(`            ${oneLine(n.summary, 240)}`);
        }
        if ((f.nodes || []).length > 10) out.push(`         … and ${f.nodes.length - 10} more elements`);
      } else if (f.kind === 'html') {
        out.push(`     html ${f.where}: ${f.message}`);
        if (f.extract) out.push(`            ${oneLine(f.extract, 160)}`);
      } else {
        otherCount++;
        out.push(`     ${f.rule}: ${f.message}`);
      }
    }
  }
  for (const f of vnuOrphans) out.push(`FAIL vnu: ${f.message}${f.where ? ` (${f.where})` : ''}`);
  if (vnu.error) otherCount++;

  console.log(out.join('\n'));
  const failed = axeCount + htmlErrors + otherCount > 0;
  console.log(
    `page-quality: ${results.length} pages, ${axeCount} axe violations, ${htmlErrors} HTML errors` +
      (otherCount ? `, ${otherCount} other failures` : ''),
  );
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(`page-quality: internal error: ${e && e.stack ? e.stack : e}`);
  process.exit(2);
});
