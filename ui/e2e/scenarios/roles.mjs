// An administrator creates accounts in the Users page; each account then
// sees only the screens its role allows.
export const title = 'users page: create accounts, navigation follows each role';
export const order = 5;

const navHrefs = (page) => page.locator('nav[aria-label=main] a').evaluateAll((as) => as.map((a) => new URL(a.href).pathname));

async function createUser(ctx, page, { username, role, password }) {
  await page.getByTestId('new-user').click();
  await page.locator('#new-username').fill(username);
  await page.locator('#new-role').selectOption(role);
  await page.locator('#new-password').fill(password.slice(0, 8));
  await page.locator('#new-username').click(); // blur: the short password is flagged inline
  await page.getByTestId('new-password-error').waitFor();
  await page.locator('#new-password').fill(password);
  ctx.assert.equal(await page.getByTestId('new-password-error').count(), 0, 'a 12+ character password is accepted');
  await page.getByTestId('create-user').click();
  await page.locator(`tr[data-user="${username}"]`).waitFor();
  ctx.log(`created ${username} (${role}) in the UI`);
}

export async function run(ctx) {
  const suffix = Date.now().toString(36);
  const integrator = { username: `integrator-${suffix}`, role: 'integrator', password: 'integrator-e2e-pass' };
  const qa = { username: `qa-${suffix}`, role: 'qa_manager', password: 'qa-manager-e2e-pass' };

  const page = await ctx.newPage();
  await ctx.login(page);
  await page.locator('nav[aria-label=main] a[href="/users"]').click();
  await page.getByTestId('users-table').waitFor();
  await createUser(ctx, page, integrator);
  await createUser(ctx, page, qa);
  ctx.assert.equal(await page.locator(`tr[data-user="${integrator.username}"] .badge`).first().textContent(), 'インテグレーター', 'role badge in Japanese');
  ctx.assert.equal(await page.locator('tr[data-user="admin"] [data-testid=disable-user]').count(), 0, 'the built-in admin cannot be disabled');
  await ctx.shot(page, 'users-page');
  await page.getByTestId('new-user').click();
  await page.locator('#new-username').fill('Bad Name');
  await page.locator('#new-password').fill('short');
  await page.getByTestId('create-user').click();
  await page.getByTestId('new-username-error').waitFor();
  await ctx.shot(page, 'users-new-invalid');
  await page.keyboard.press('Escape');

  // Sign out, sign in as the integrator.
  await page.getByRole('button', { name: 'ログアウト' }).click();
  await page.locator('#username').waitFor();
  await ctx.login(page, integrator);
  let hrefs = await navHrefs(page);
  ctx.log(`integrator navigation: ${hrefs.join(' ')}`);
  for (const h of ['/fleet', '/pipelines', '/executions']) ctx.assert.ok(hrefs.includes(h), `integrator sees ${h}: ${hrefs}`);
  for (const h of ['/dashboard', '/records', '/users']) ctx.assert.ok(!hrefs.includes(h), `integrator does not see ${h}: ${hrefs}`);
  await page.locator('nav[aria-label=main] a[href="/fleet"]').click();
  await page.getByTestId('new-token').waitFor(); // devices:manage
  await ctx.shot(page, 'integrator-shell');
  await page.goto(`${ctx.cloudURL}/records`);
  await page.getByText('このロールではこのページを開けません。').waitFor();
  await page.goto(`${ctx.cloudURL}/users`);
  await page.getByText('このロールではこのページを開けません。').waitFor();
  await ctx.shot(page, 'integrator-records-forbidden');
  const r = await fetch(`${ctx.cloudURL}/api/v1/users`, { headers: { Authorization: `Bearer ${await page.evaluate(() => JSON.parse(localStorage.getItem('ifc.session')).token)}` } });
  ctx.assert.equal(r.status, 403, 'the API refuses the integrator too');

  // Sign out, sign in as the QA manager.
  await page.getByRole('button', { name: 'ログアウト' }).click();
  await page.locator('#username').waitFor();
  await ctx.login(page, qa);
  hrefs = await navHrefs(page);
  ctx.log(`qa_manager navigation: ${hrefs.join(' ')}`);
  for (const h of ['/dashboard', '/pipelines', '/executions', '/records']) ctx.assert.ok(hrefs.includes(h), `qa_manager sees ${h}: ${hrefs}`);
  ctx.assert.ok(!hrefs.includes('/users'), `qa_manager does not see Users: ${hrefs}`);
  await ctx.shot(page, 'qa-manager-shell');

  // Disabled: the integrator cannot sign in any more.
  const users = await ctx.api('GET', '/api/v1/users');
  ctx.assert.ok(users.json.users.some((u) => u.username === qa.username && u.role === 'qa_manager'), 'the API lists the new user');
  ctx.assert.equal((await ctx.api('POST', `/api/v1/users/${integrator.username}/disable`)).status, 200);
  const login = await fetch(`${ctx.cloudURL}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: integrator.username, password: integrator.password }) });
  ctx.assert.equal(login.status, 401, 'a disabled user cannot sign in');
  await page.context().close();
}
