export const title = 'sign in, navigation follows the role, language switch';
export const order = 1;

export async function run(ctx) {
  const page = await ctx.newPage();
  await page.goto(`${ctx.cloudURL}/`);
  await page.locator('#username').fill('admin');
  await page.locator('#password').fill('wrong password');
  await page.locator('button[type=submit]').click();
  await page.getByRole('alert').waitFor();
  await ctx.shot(page, 'login-failed');
  await ctx.login(page);
  const nav = page.locator('nav[aria-label=main] a');
  const labels = await nav.allTextContents();
  ctx.log('navigation:', labels.join(' | '));
  ctx.assert.ok(labels.length >= 5, `admin sees every screen, got ${labels}`);
  ctx.assert.ok(labels.some((l) => l.includes('パイプライン')), 'Japanese is the default language');
  await page.getByLabel('言語').selectOption('en');
  await page.getByRole('link', { name: 'Pipelines' }).waitFor();
  await page.getByLabel('Language').selectOption('ja');
}
