// Drives Debian's chromium (headless, through playwright-core) through the FE web console.
// Run by crates/testkit/tests/cluster/console.rs, which starts the cluster and passes, in the
// environment:
//   CONSOLE_BASE     http://<follower fe>:8030   (a non-leader: exercises forwarding)
//   CONSOLE_OUT      directory for the screenshots
//   CONSOLE_EXPECT   JSON: { db, table, frontends, backends, leaderAddr, killHost, tablets,
//                    replicationNum }
// Protocol with the test: after the healthy pages pass it prints "KILL_BE" and waits for one
// line on stdin (the test has killed a backend), then checks the degraded cluster.
// Any failed check throws: the process exits non-zero with the reason on stderr.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { chromium } from 'playwright-core';

const base = must('CONSOLE_BASE');
const outDir = must('CONSOLE_OUT');
const want = JSON.parse(must('CONSOLE_EXPECT'));
const W = 1366;
const H = 768;

function must(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

const stdin = readline.createInterface({ input: process.stdin });
const lines = stdin[Symbol.asyncIterator]();

async function visit(page, url, expectStatus = 200) {
  const resp = await page.goto(base + url, { waitUntil: 'load', timeout: 20000 });
  check(resp && resp.status() === expectStatus, `${url} answers ${expectStatus} (got ${resp && resp.status()})`);
  await noHorizontalScroll(page, url);
  return resp;
}

async function noHorizontalScroll(page, what) {
  const { sw, iw } = await page.evaluate(() => ({
    sw: document.scrollingElement.scrollWidth,
    iw: window.innerWidth,
  }));
  check(sw <= iw, `${what}: no horizontal scroll at ${iw} px (scrollWidth ${sw})`);
}

// Rows of the first table with class `cls`, as arrays of cell texts.
async function rows(page, cls) {
  return page.$$eval(`table.${cls} tbody tr`, (trs) =>
    trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent.trim())),
  );
}

// Full-page screenshot, then decode it in the browser and make sure it is not blank.
async function screenshot(page, name) {
  const file = path.join(outDir, `${name}.png`);
  const buf = await page.screenshot({ path: file, fullPage: true });
  const stats = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const counts = new Map();
    for (let i = 0; i < d.length; i += 4) {
      const k = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
      counts.set(k, (counts.get(k) || 0) + 1);
    }
    const top = Math.max(...counts.values());
    return { w: c.width, h: c.height, distinct: counts.size, other: 1 - top / (c.width * c.height) };
  }, buf.toString('base64'));
  check(stats.w === W && stats.h >= H, `${name}.png is ${W} wide and at least ${H} high (${stats.w}x${stats.h})`);
  check(stats.distinct >= 64, `${name}.png is not blank: ${stats.distinct} distinct colours`);
  check(stats.other >= 0.05, `${name}.png: ${(stats.other * 100).toFixed(1)} % of pixels differ from the background`);
  return file;
}

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-console-chromium-'));
const ctx = await chromium.launchPersistentContext(userDataDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
  viewport: { width: W, height: H },
  httpCredentials: { username: 'root', password: '' },
  timeout: 30000,
});
try {
  const page = ctx.pages()[0] || (await ctx.newPage());
  page.setDefaultTimeout(20000);
  const jsErrors = [];
  page.on('pageerror', (e) => jsErrors.push(String(e)));

  // Overview: healthy cluster.
  await visit(page, '/console?refresh=0');
  check((await page.textContent('.verdict .badge')) === 'OK', 'overview badge is OK');
  const cards = await page.$$eval('.card', (cs) => cs.map((c) => c.textContent));
  check(cards.some((c) => c.includes(want.leaderAddr) && c.includes('leader')), `leader card names ${want.leaderAddr}`);
  check(cards.some((c) => c.includes(`${want.backends} / ${want.backends}backends alive`)), 'overview: every backend alive');
  check(cards.some((c) => c.includes(`${want.frontends} / ${want.frontends}frontends alive`)), 'overview: every frontend alive');
  check(cards.some((c) => c.startsWith('0 / ') && c.includes('unhealthy tablets')), 'overview: no unhealthy tablet');
  await screenshot(page, 'overview');

  // Frontends.
  await visit(page, '/console/frontends?refresh=0');
  const fes = await rows(page, 'frontends');
  check(fes.length === want.frontends, `${want.frontends} frontend rows (${fes.length})`);
  check(fes.filter((r) => r[2] === 'LEADER').length === 1, 'exactly one LEADER row');
  check(fes.some((r) => r[2] === 'OBSERVER'), 'an OBSERVER row');
  check(fes.find((r) => r[2] === 'LEADER')[1] === want.leaderAddr, 'the LEADER row is the leader');
  check(fes.every((r) => r[3] === 'alive'), 'every frontend alive');
  check(fes.every((r) => /^\d+$/.test(r[4]) && Number(r[4]) > 0), 'journal ids shown');
  check(fes.every((r) => /^\d+$/.test(r[5])), 'lag shown for every frontend');
  check(fes.some((r) => r[0].endsWith('this')), 'the serving frontend is marked');
  check((await page.textContent('.src')).includes('leader'), 'frontends come from the leader');
  await screenshot(page, 'frontends');

  // Backends.
  await visit(page, '/console/backends?refresh=0');
  const bes = await rows(page, 'backends');
  check(bes.length === want.backends, `${want.backends} backend rows`);
  check(bes.every((r) => r[2] === 'alive'), 'every backend alive');
  const tabletSum = bes.reduce((s, r) => s + Number(r[4]), 0);
  check(tabletSum === want.tablets * want.replicationNum, `backend tablet counts add up to ${want.tablets * want.replicationNum} (${tabletSum})`);
  check(bes.every((r) => / of /.test(r[5]) && /B/.test(r[5])), 'disk used / total shown');
  await screenshot(page, 'backends');

  // Tables, then click through to the table.
  await visit(page, '/console/tables?refresh=0');
  const tbls = await rows(page, 'tables');
  const t = tbls.find((r) => r[0] === want.db && r[1] === want.table);
  check(t, `${want.db}.${want.table} is listed`);
  check(Number(t[3]) === want.tablets, `${want.table}: ${want.tablets} tablets`);
  check(t[4].startsWith(String(want.tablets * want.replicationNum)), `${want.table}: replicas`);
  check(Number(t[5]) >= 2, `${want.table}: visible version after the load (${t[5]})`);
  check(t[7] === 'healthy', `${want.table} is healthy`);
  await screenshot(page, 'tables');
  await Promise.all([
    page.waitForURL(`**/console/tables/${encodeURIComponent(want.db)}/${encodeURIComponent(want.table)}`),
    page.click(`table.tables a.tbl:text-is("${want.table}")`),
  ]);
  await noHorizontalScroll(page, 'table page');
  check((await page.textContent('h1')) === `Table ${want.db}.${want.table}`, 'drill-down heading');
  const reps = await rows(page, 'tablets');
  check(reps.length === want.tablets * want.replicationNum, `tablets × replicas: ${reps.length} rows`);
  check(reps.every((r) => r[7] === 'OK'), 'every replica OK');
  check(reps.filter((r) => r[2] === 'HEALTHY').length === want.tablets, 'every tablet HEALTHY');
  await screenshot(page, 'table');

  // Repair.
  await visit(page, '/console/repair?refresh=0');
  const h2 = await page.$$eval('h2', (hs) => hs.map((h) => h.textContent));
  check(['Running clones', 'Queue', 'History'].every((x) => h2.includes(x)), 'repair sections');
  check((await page.textContent('.src')).includes('leader'), 'repair queues come from the leader');
  await screenshot(page, 'repair');

  // Errors are pages, not panics.
  await visit(page, `/console/tables/${want.db}/no_such_table`, 404);
  check((await page.textContent('.banner')).includes("doesn't exist"), 'unknown table: 404 page');
  await visit(page, '/console/backends?refresh=abc', 400);
  await visit(page, '/console/nowhere', 404);

  // Degraded: keep the backends page open with auto-refresh; the test kills a backend.
  await visit(page, '/console/backends?refresh=1');
  check((await rows(page, 'backends')).every((r) => r[2] === 'alive'), 'before the kill: all alive');
  console.log('KILL_BE');
  const ack = await lines.next();
  check(!ack.done, 'the test killed a backend');
  await page.waitForFunction(
    (host) => Array.from(document.querySelectorAll('table.backends tbody tr')).some((tr) => {
      const td = tr.querySelectorAll('td');
      return td[1] && td[1].textContent.startsWith(host + ':') && td[2].textContent.trim() === 'dead';
    }),
    want.killHost,
    { timeout: 30000, polling: 250 },
  );
  check(true, `the open backends page refreshed itself: ${want.killHost} dead`);
  await noHorizontalScroll(page, 'backends (degraded)');
  await screenshot(page, 'backends-degraded');
  await visit(page, '/console?refresh=0');
  const level = await page.textContent('.verdict .badge');
  check(level === 'WARN', `overview badge turns WARN (${level})`);
  const reasons = await page.$$eval('.reasons li', (ls) => ls.map((l) => l.textContent));
  check(reasons.some((r) => r.includes('backends dead')), `reasons name the dead backend (${reasons})`);
  await screenshot(page, 'overview-degraded');

  // The leader repairs the dead backend's replicas (drops the dead copy, clones a new one);
  // its history shows on this follower.
  const cloned = (r) => r[3] === 'FINISHED' && ['FULL', 'INCREMENTAL'].includes(r[5]);
  await visit(page, '/console/repair?refresh=1');
  await page.waitForFunction(
    () => Array.from(document.querySelectorAll('table.history tbody tr')).some((tr) => {
      const td = Array.from(tr.querySelectorAll('td')).map((x) => x.textContent);
      return td[3] === 'FINISHED' && (td[5] === 'FULL' || td[5] === 'INCREMENTAL');
    }),
    null,
    { timeout: 60000, polling: 250 },
  );
  const hist = await rows(page, 'history');
  const fin = hist.find(cloned);
  check(fin[1].startsWith(`${want.db}.${want.table}`), `a finished repair of ${want.db}.${want.table} (${fin})`);
  check(/^\d+ → \d+$/.test(fin[4]), `source and destination backends shown (${fin[4]})`);
  check(['FULL', 'INCREMENTAL'].includes(fin[5]), `clone type shown (${fin[5]})`);
  await noHorizontalScroll(page, 'repair (history)');
  await screenshot(page, 'repair-history');

  check(jsErrors.length === 0, `no JavaScript errors (${jsErrors.join('; ')})`);
  console.log('DONE');
} finally {
  await ctx.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
  stdin.close();
}
