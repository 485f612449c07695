// What the browser tests of one page need (changes.test.mjs,
// webhooks.test.mjs): Debian's Chromium through playwright-core, sign-in,
// screenshots, and a list of the console errors a page logged.
// Environment (set by run.sh): SMS_BASE_URL, SMS_DOMAIN, SMS_PASSWORD,
// ARTIFACT_DIR, CHROMIUM.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const BASE = process.env.SMS_BASE_URL;
export const DOMAIN = process.env.SMS_DOMAIN || 'acme';
export const PASSWORD = process.env.SMS_PASSWORD;
const ARTIFACTS = process.env.ARTIFACT_DIR || path.resolve('test-results');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// -> {browser, page, problems, shot(name), signIn(user), signOut()}
export async function openBrowser() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1366, height: 850 } });
  const page = await context.newPage();
  const problems = []; // console errors and uncaught exceptions
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()} @ ${page.url()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.setDefaultTimeout(10000);
  return {
    browser,
    page,
    problems,
    async shot(name) {
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
    },
    async signIn(user) {
      await page.goto(`${BASE}/console/#/signin`);
      await page.getByLabel('Domain').fill(DOMAIN);
      await page.getByLabel('User name').fill(user);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('#tasks-table').waitFor();
    },
    async signOut() {
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { name: 'SMS Consistency' }).waitFor();
    },
  };
}
