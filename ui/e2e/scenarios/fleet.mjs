// Fleet: the all-in-one's edge agent is listed online; an admin creates an
// enrollment token for a new line and sees it once with its expiry.
export const title = 'fleet: devices online, create an enrollment token';
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
}
