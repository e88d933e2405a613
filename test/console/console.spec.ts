import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrowserContext, chromium, Locator, Page } from 'playwright-core';
import { CONSOLE_CSP } from '../../src/console';
import { makeClient, makeKey, makeScope, unique } from '../support/factories';
import { TestApp } from '../support/test-app';

/**
 * Drives the operator's console in a real browser against the real service: sign-in (and the
 * keys it refuses), clients, issuing a key with its secret shown once, usage charts filled by
 * introspection traffic, a rotation on one chart, revocation, the audit trail and its chain,
 * a tenant's key that sees only its own client, and the failures shown as problem details.
 * Every page is checked with axe-core and photographed into test-artifacts/console/.
 */
const CHROMIUM = '/usr/bin/chromium';
const ROOT = join(__dirname, '..', '..');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'console');
// The README's picture of the usage chart; rewritten only with UPDATE_DOCS_IMAGES=1, else the chart goes to test-artifacts.
const USAGE_IMAGE = join(ROOT, 'docs', 'images', 'console-usage.png');
const browserPresent = existsSync(CHROMIUM);
// The console build, a browser start and a few dozen page round trips; generous, as CI machines are often busy.
const BROWSER_TIMEOUT_MS = 300_000;

if (!browserPresent && !process.env.CI) {
  process.stderr.write(
    `\nSKIPPED test/console/console.spec.ts: ${CHROMIUM} is missing (apt-get install -y chromium). In CI it runs and fails without it.\n\n`,
  );
}

(browserPresent || process.env.CI ? describe : describe.skip)('The console in a browser', () => {
  let app: TestApp;
  let base: string;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  const foreignRequests: string[] = [];
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!browserPresent)
      throw new Error(`${CHROMIUM} is missing; .ci/run installs it with apt-get install -y chromium`);
    // The console as this checkout's sources make it, into console/dist, where the service serves it from.
    execFileSync('npm', ['run', '-s', 'build:console'], { cwd: ROOT, stdio: 'pipe' });
    app = await TestApp.start({ USAGE_FLUSH_INTERVAL_MS: 200 });
    await app.app.listen({ port: 0, host: '127.0.0.1' });
    base = await app.app.getUrl();
    profile = mkdtempSync(join(tmpdir(), 'keyhouse-console-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    context.setDefaultTimeout(60_000);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(base) && !url.startsWith('data:')) foreignRequests.push(url);
    });
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    mkdirSync(ARTIFACTS, { recursive: true });
    mkdirSync(join(ROOT, 'docs', 'images'), { recursive: true });
  }, BROWSER_TIMEOUT_MS);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await app?.close();
  });

  const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

  /** axe-core in the page (evaluated through the debugger, so the page's CSP still holds): no serious or critical violation. */
  async function expectAccessible(name: string): Promise<void> {
    if (!(await page.evaluate("'axe' in window"))) await page.evaluate(axeSource);
    const violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }> =
      await page.evaluate("axe.run(document, { resultTypes: ['violations'] }).then((result) => result.violations)");
    const serious = violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${name}: ${v.id} (${v.impact}) ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    expect(serious).toEqual([]);
  }

  /** A full-page screenshot; a secret shown once is masked, so no picture holds a usable key. */
  async function shot(name: string): Promise<void> {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true, mask: [page.getByTestId('secret')] });
  }

  async function visible(locator: Locator): Promise<Locator> {
    await locator.first().waitFor({ state: 'visible' });
    return locator.first();
  }

  async function signIn(key: string): Promise<void> {
    const input = await visible(page.getByLabel('API key'));
    await input.fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  async function signOut(): Promise<void> {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await visible(page.getByLabel('API key'));
  }

  /** The problem box's text once it shows. */
  async function problemText(scope: Page | Locator = page): Promise<string> {
    return (await visible(scope.locator('.problem'))).innerText();
  }

  /** Clicks Refresh on a usage panel until its summary shows calls matching `expected` (usage is flushed every 200 ms). */
  async function waitForUsage(panel: Locator, expected: RegExp): Promise<string> {
    const summary = panel.getByTestId('usage-summary');
    const deadline = Date.now() + 60_000;
    for (;;) {
      await summary.waitFor({ state: 'visible' });
      const text = await summary.innerText();
      if (expected.test(text)) return text;
      if (Date.now() > deadline) throw new Error(`usage summary stayed "${text}", expected ${String(expected)}`);
      const answered = page.waitForResponse((r) => r.url().includes('/usage'));
      await panel.getByRole('button', { name: 'Refresh' }).click();
      await answered;
    }
  }

  async function introspect(token: string, times: number, scope?: string): Promise<void> {
    for (let i = 0; i < times; i++) {
      const res = await app.post('/v1/introspect', { token, ...(scope ? { scope } : {}) });
      expect(res.status).toBe(200);
    }
  }

  it(
    'should sign in, manage a client and its keys, chart their usage, follow the audit trail, and keep a tenant to its own client',
    async () => {
      const scope = await makeScope(app, `${unique('orders')}:read`);

      // Served under its own CSP: scripts and styles from this origin only.
      const index = await fetch(`${base}/console/`);
      expect(index.status).toBe(200);
      expect(index.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
      const html = await index.text();
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(html).not.toMatch(/<style|\sstyle=/);
      const bare = await fetch(`${base}/console`, { redirect: 'manual' });
      expect([301, 302, 308]).toContain(bare.status);
      expect(bare.headers.get('location')).toBe('/console/');

      await page.goto(`${base}/console/`);
      await visible(page.getByRole('heading', { name: 'Keyhouse console' }));
      await expectAccessible('sign-in');
      await shot('sign-in');

      // A revoked key and an expired key are refused at sign-in with the problem's detail.
      const other = await makeClient(app);
      const revoked = await makeKey(app, other.id, { scopes: ['admin:clients:read'] });
      await app.post(`/v1/keys/${revoked.id}/revoke`, { reason: 'compromised' });
      const refusedRevoked = await app.get('/v1/clients', { key: revoked.key });
      expect(refusedRevoked.status).toBe(401);
      await signIn(revoked.key);
      expect(await problemText()).toContain(refusedRevoked.body.detail);
      await shot('sign-in-revoked');

      await page.reload();
      const expiring = await makeKey(app, other.id, { scopes: ['admin:clients:read'], ttl_seconds: 1 });
      await waitUntil(async () => (await app.get(`/v1/keys/${expiring.id}`)).body.status === 'expired');
      const refusedExpired = await app.get('/v1/clients', { key: expiring.key });
      expect(refusedExpired.status).toBe(401);
      await signIn(expiring.key);
      expect(await problemText()).toContain(refusedExpired.body.detail);

      // No answer at all: a network failure is said, not a blank page.
      await page.route('**/v1/**', (route) => route.abort('failed'));
      await signIn(app.rootKey);
      expect(await problemText()).toContain('could not be reached');
      await page.unroute('**/v1/**');

      // The root key, typed and sent from the keyboard.
      await page.getByLabel('API key').fill('');
      await page.getByLabel('API key').focus();
      await page.keyboard.type(app.rootKey);
      await page.keyboard.press('Enter');
      await visible(page.getByRole('heading', { name: 'Clients', level: 1 }));
      expect(await page.evaluate('window.localStorage.length')).toBe(0);
      expect((await context.cookies()).length).toBe(0);
      await expectAccessible('clients');
      await shot('clients');

      // A client whose name is markup: shown as text, never parsed.
      const hostile = `<img src=x id=injected>${unique('acme')}`;
      await page.getByRole('button', { name: 'New client' }).click();
      await page.getByLabel('Name').fill(hostile);
      await page.getByLabel('Description').fill('made in the console');
      await page.getByRole('button', { name: 'Create client' }).click();
      const heading = await visible(page.getByRole('heading', { level: 1 }));
      await waitUntil(async () => (await heading.innerText()).includes(hostile));
      expect(await page.locator('#injected').count()).toBe(0);
      const clientId = decodeURIComponent(page.url().split('#/clients/')[1]);
      expect((await app.get(`/v1/clients/${clientId}`)).body.name).toBe(hostile);
      await expectAccessible('client');

      // Issue a key: confirmed, its secret shown once with a copy button, gone after dismissal.
      await page.getByRole('button', { name: 'Issue a key' }).click();
      const keyName = unique('checkout');
      await page.getByLabel('Name', { exact: true }).fill(keyName);
      await page.getByLabel('Scopes (comma separated)').fill(scope.name);
      await page.getByRole('button', { name: 'Issue key' }).click();
      const confirmIssue = await visible(page.getByRole('dialog'));
      await expectAccessible('issue-confirm');
      await confirmIssue.getByRole('button', { name: 'Issue' }).click();
      const secret = (await (await visible(page.getByTestId('secret'))).innerText()).trim();
      expect(secret).toMatch(/^sk_live_/);
      expect(await page.locator('.secret .warning').innerText()).toContain('shown once');
      await page.getByRole('button', { name: 'Copy' }).click();
      await waitUntil(async () => (await page.evaluate('navigator.clipboard.readText()')) === secret);
      await expectAccessible('issued');
      await shot('key-issued');
      await page.getByRole('button', { name: 'I have stored the key' }).click();
      await page.getByTestId('secret').waitFor({ state: 'detached' });
      expect(await page.content()).not.toContain(secret);
      const issued = (await app.get('/v1/keys', { query: { client_id: clientId } })).body.data[0];
      expect(issued).toMatchObject({ name: keyName, scopes: [scope.name] });

      // Introspection traffic: good calls, and some for a scope the key lacks.
      await introspect(secret, 6, scope.name);
      await introspect(secret, 2, `${unique('billing')}:write`);

      // The client's usage, then the key's: stacked by outcome, non-empty.
      const clientUsage = page.getByRole('region', { name: "Usage of the client's keys" });
      expect(await waitForUsage(clientUsage, /^8 calls: valid 6, insufficient_scope 2\.$/)).toBeTruthy();
      // Suspend (the client's keys show as disabled) and reactivate, each after a confirmation.
      await page.getByRole('button', { name: 'Suspend client' }).click();
      await (await visible(page.getByRole('dialog'))).getByRole('button', { name: 'Suspend' }).click();
      await visible(page.locator('h1 .chip-suspended'));
      await visible(page.getByRole('region', { name: 'Keys' }).locator('.chip-disabled'));
      expect((await app.get(`/v1/clients/${clientId}`)).body.status).toBe('suspended');
      await shot('client-suspended');
      await page.getByRole('button', { name: 'Reactivate client' }).click();
      await (await visible(page.getByRole('dialog'))).getByRole('button', { name: 'Reactivate' }).click();
      await visible(page.locator('h1 .chip-active'));
      expect((await app.get(`/v1/clients/${clientId}`)).body.status).toBe('active');

      await page.getByRole('link', { name: keyName }).click();
      const keyUsage = page.getByRole('region', { name: 'Usage of this key' });
      await waitForUsage(keyUsage, /^8 calls: valid 6, insufficient_scope 2\.$/);
      expect(await chartHasBars(keyUsage)).toBe(true);
      await keyUsage.getByRole('button', { name: '7 days' }).click();
      await waitForUsage(keyUsage, /^8 calls/);
      await keyUsage.getByRole('button', { name: '24 hours' }).click();
      await waitForUsage(keyUsage, /^8 calls/);
      await expectAccessible('key');
      await keyUsage.screenshot({
        path: process.env.UPDATE_DOCS_IMAGES ? USAGE_IMAGE : join(ARTIFACTS, 'usage-chart.png'),
      });
      await shot('key-usage');

      // Rotate with a grace period: the successor's secret shown once; then the old and new key on one chart.
      await page.getByRole('button', { name: 'Rotate' }).click();
      const rotateDialog = await visible(page.getByRole('dialog'));
      await rotateDialog.getByLabel('Grace period').selectOption({ label: '1 hour' });
      await rotateDialog.getByRole('button', { name: 'Rotate' }).click();
      const successorSecret = (await (await visible(page.getByTestId('secret'))).innerText()).trim();
      expect(successorSecret).toMatch(/^sk_live_/);
      expect(successorSecret).not.toBe(secret);
      const old = (await app.get(`/v1/keys/${issued.id}`)).body;
      expect(old.replaced_by).toBeTruthy();
      expect(Date.parse(old.grace_ends_at) - Date.now()).toBeGreaterThan(50 * 60_000);
      await introspect(secret, 2, scope.name);
      await introspect(successorSecret, 4, scope.name);
      await page.getByRole('button', { name: 'I have stored the key' }).click();
      await waitUntil(async () => page.url().endsWith(`#/keys/${old.replaced_by}`));
      expect(await page.content()).not.toContain(successorSecret);
      const rotation = page.getByRole('region', { name: 'Rotation' });
      const both = await waitForUsage(rotation, /^14 calls: old: .+ 10, new: .+ 4\.$/);
      expect(both).toContain(keyName);
      await shot('rotation');

      // A 409: the old key was rotated already; the problem's detail is shown.
      await page.getByRole('link', { name: keyName }).first().click();
      await waitUntil(async () => page.url().endsWith(`#/keys/${issued.id}`));
      await visible(page.getByRole('heading', { name: new RegExp(keyName) }));
      const again = await app.post(`/v1/keys/${issued.id}/rotate`, { grace_period_seconds: 60 });
      expect(again.status).toBe(409);
      await page.getByRole('button', { name: 'Rotate' }).click();
      await (await visible(page.getByRole('dialog'))).getByRole('button', { name: 'Rotate' }).click();
      const conflict = await problemText();
      expect(conflict).toContain('409');
      expect(conflict).toContain(again.body.detail);
      await shot('rotate-conflict');

      // Revoke the successor with a reason, after a confirmation.
      await page.goto(`${base}/console/#/keys/${old.replaced_by}`);
      // Escape cancels a confirmation: nothing is revoked.
      await page.getByRole('button', { name: 'Revoke' }).click();
      await visible(page.getByRole('dialog'));
      await page.keyboard.press('Escape');
      await page.getByRole('dialog').waitFor({ state: 'detached' });
      expect((await app.get(`/v1/keys/${old.replaced_by}`)).body.status).toBe('active');
      await page.getByRole('button', { name: 'Revoke' }).click();
      const revokeDialog = await visible(page.getByRole('dialog'));
      await revokeDialog.getByLabel('Reason').fill('rotated out in a drill');
      await revokeDialog.getByRole('button', { name: 'Revoke' }).click();
      await visible(page.locator('h1 .chip-revoked'));
      expect((await app.get(`/v1/keys/${old.replaced_by}`)).body).toMatchObject({
        status: 'revoked',
        revoked_reason: 'rotated out in a drill',
      });

      // The keys list with its chips and filters.
      const sections = page.getByRole('navigation', { name: 'Sections' });
      await sections.getByRole('link', { name: 'Keys' }).click();
      await visible(page.getByRole('heading', { name: 'Keys', level: 1 }));
      await visible(page.getByRole('link', { name: keyName }));
      await page.getByLabel('Status').selectOption('revoked');
      await waitUntil(async () => (await page.locator('tbody .chip').allInnerTexts()).every((t) => t === 'revoked'));
      expect(await page.locator('tbody tr').count()).toBeGreaterThan(0);
      await page.getByLabel('Status').selectOption('');
      await expectAccessible('keys');
      await shot('keys');

      // The audit trail: the events of this run, a filter, a diff, and the chain verified.
      await sections.getByRole('link', { name: 'Audit' }).click();
      await visible(page.getByRole('heading', { name: 'Audit trail' }));
      await page.getByLabel('Target id').fill(old.replaced_by);
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await waitUntil(async () => (await page.locator('.event-action').allInnerTexts()).includes('key.revoked'));
      await page.getByLabel('Target id').fill('');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await waitUntil(async () => {
        const actions = await page.locator('.event-action').allInnerTexts();
        return ['client.created', 'key.issued', 'key.rotated', 'key.revoked'].every((a) => actions.includes(a));
      });
      await page.getByLabel('Action').selectOption('key.revoked');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await waitUntil(async () =>
        (await page.locator('.event-action').allInnerTexts()).every((a) => a === 'key.revoked'),
      );
      const revokedEvent = page.locator('.event').filter({ hasText: old.replaced_by }).first();
      await revokedEvent.locator('summary').click();
      expect(await revokedEvent.locator('.diff').innerText()).toContain('rotated out in a drill');
      await page.getByRole('button', { name: 'Verify the chain' }).click();
      await waitUntil(async () =>
        /The chain is intact: \d+ events checked/.test(await page.getByTestId('verify-result').innerText()),
      );
      await expectAccessible('audit');
      await shot('audit');

      // The client list, searched: the new client, with its usable and all keys counted (the old key in its grace period, the revoked successor).
      await page.goto(`${base}/console/#/clients`);
      await page.getByLabel('Search').fill(hostile.slice(hostile.indexOf('acme')));
      await waitUntil(async () => (await page.locator('tbody tr').count()) === 1);
      expect(await page.locator('tbody tr').innerText()).toContain(hostile);
      expect(await page.locator('tbody tr td').nth(2).innerText()).toBe('1 / 2');

      // Readable at a phone's width: nothing wider than the screen.
      await page.setViewportSize({ width: 390, height: 844 });
      for (const route of ['clients', `clients/${clientId}`, `keys/${issued.id}`, 'keys', 'audit']) {
        await page.goto(`${base}/console/#/${route}`);
        await visible(page.getByRole('heading', { level: 1 }));
        await page.waitForLoadState('networkidle');
        expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      }
      await expectAccessible('audit-phone');
      await shot('audit-phone');
      await page.goto(`${base}/console/#/keys/${issued.id}`);
      await visible(page.getByRole('region', { name: 'Usage of this key' }).locator('canvas'));
      await shot('key-phone');
      await page.setViewportSize({ width: 1280, height: 900 });

      // Sign out: the key is gone from the tab.
      await signOut();
      expect(await page.evaluate('window.sessionStorage.length')).toBe(0);

      // A tenant's admin key sees its own client, not the other one; root-only calls are a 403 with its detail.
      const tenantClient = await makeClient(app);
      const tenant = await makeKey(app, tenantClient.id, {
        scopes: ['admin:clients:read', 'admin:keys:read', 'admin:keys:write', 'admin:audit:read'],
      });
      await signIn(tenant.key);
      await visible(page.getByRole('heading', { name: 'Clients', level: 1 }));
      await visible(page.getByRole('link', { name: tenantClient.name }));
      expect(await page.locator('tbody a').allInnerTexts()).toEqual([tenantClient.name]);
      expect(await page.locator('tbody tr td').nth(2).innerText()).toBe('1 / 1');
      await shot('tenant-clients');
      await page.goto(`${base}/console/#/clients/${clientId}`);
      const notFound = await app.get(`/v1/clients/${clientId}`, { key: tenant.key });
      expect(notFound.status).toBe(404);
      expect(await problemText()).toContain(notFound.body.detail);
      await page.goto(`${base}/console/#/audit`);
      await page.getByRole('button', { name: 'Verify the chain' }).click();
      const forbidden = await app.get('/v1/audit-events/verify', { key: tenant.key });
      expect(forbidden.status).toBe(403);
      expect(await problemText()).toContain(forbidden.body.detail);
      await expectAccessible('tenant-audit');
      await shot('tenant-audit');
      await signOut();

      expect(foreignRequests).toEqual([]);
      expect(cspViolations).toEqual([]);
      expect(pageErrors).toEqual([]);
    },
    BROWSER_TIMEOUT_MS,
  );

  /** Whether the chart's canvas has coloured (bar) pixels, not only axes and text. */
  async function chartHasBars(panel: Locator): Promise<boolean> {
    return panel.locator('canvas').evaluate((canvas: any) => {
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
        // The valid outcome's green (#1b7f3b).
        if (a > 200 && Math.abs(r - 0x1b) < 12 && Math.abs(g - 0x7f) < 12 && Math.abs(b - 0x3b) < 12) return true;
      }
      return false;
    });
  }
});

/** Polls `check` until it is true, for at most 60 seconds. */
async function waitUntil(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // Not there yet (an element still rendering): try again.
    }
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
