// Fleet: the all-in-one's edge agent is listed online; an admin creates an
// enrollment token for a new line, sees it once with its expiry, finds it in
// the token list (without its text) and revokes it.
import { createHash } from 'node:crypto';

export const title = 'fleet: devices online, create, list and revoke an enrollment token';
export const order = 50;

export async function run(ctx) {
  const { assert } = ctx;
  const status = await ctx.edgeApi('GET', '/api/v1/status');
  assert.equal(status.status, 200, status.text);
  const deviceId = status.json.device_id;

  const page = await ctx.newPage();
  await ctx.login(page);
  await page.goto(`${ctx.cloudURL}/fleet`);
  await page.getByTestId('fleet-table').waitFor();
  const row = page.locator(`[data-testid=device-row][data-device="${deviceId}"]`);
  // The list refreshes every 10 s; the agent heartbeats well within that.
  await ctx.eventually(`device ${deviceId} listed online`, async () => (await row.getAttribute('data-state')) === 'online', 30_000);
  await ctx.shot(page, 'fleet');

  // Revocation asks first; cancelling leaves the device alone (later scenarios use it).
  await row.getByTestId('revoke-device').click();
  await page.getByRole('dialog').waitFor();
  await page.getByRole('dialog').getByRole('button', { name: 'キャンセル' }).click();
  await page.getByRole('dialog').waitFor({ state: 'detached' });
  assert.equal(await row.getAttribute('data-state'), 'online');

  await page.getByTestId('new-token').click();
  await page.locator('#token-line').fill('e2e-line');
  await page.getByTestId('create-token').click();
  const token = page.getByTestId('enrollment-token');
  await token.waitFor();
  const text = (await token.textContent())?.trim() ?? '';
  assert.ok(text.startsWith('ifcenr_') && text.length > 20, `token shown: ${text}`);
  const expiry = (await page.getByTestId('token-expiry').textContent()) ?? '';
  assert.ok(expiry.trim().length > 0, 'the expiry is shown');
  await ctx.shot(page, 'fleet-token');
  await page.getByTestId('token-done').click();
  await page.getByRole('dialog').waitFor({ state: 'detached' });

  // The new token is listed by its non-secret id, active; the text is not on the page.
  const tokenId = createHash('sha256').update(text).digest('hex').slice(0, 12);
  const tokRow = page.locator(`[data-testid=token-row][data-token="${tokenId}"]`);
  await tokRow.waitFor();
  assert.equal(await tokRow.getAttribute('data-line'), 'e2e-line');
  assert.equal(await tokRow.getAttribute('data-state'), 'active');
  assert.ok(!(await page.content()).includes(text), 'the token text is not on the page');
  await ctx.shot(page, 'fleet-tokens');

  // Revoke asks first, then the row shows it revoked with no revoke button.
  await tokRow.getByTestId('revoke-token').click();
  await page.getByRole('dialog').waitFor();
  await page.getByTestId('confirm-revoke-token').click();
  await page.getByRole('dialog').waitFor({ state: 'detached' });
  await ctx.eventually('token listed revoked', async () => (await tokRow.getAttribute('data-state')) === 'revoked');
  assert.equal(await tokRow.getByTestId('revoke-token').count(), 0);
  await ctx.shot(page, 'fleet-token-revoked');

  const list = await ctx.api('GET', '/api/v1/enrollment-tokens');
  assert.equal(list.status, 200, list.text);
  assert.ok(!list.text.includes(text), 'the API does not list the token text');
  const listed = list.json.tokens.find((t) => t.token_id === tokenId);
  assert.ok(listed && listed.state === 'revoked' && listed.revoked_at && listed.line === 'e2e-line', `listed: ${JSON.stringify(listed)}`);
}
