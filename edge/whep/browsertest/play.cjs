// play.cjs drives headless Chromium through index.html's WHEP player and prints one JSON
// object: decoded-frame counts two seconds apart, a grabbed frame, overlay count.
//   node play.cjs <page-url> <screenshot.png>
// playwright-core is found through NODE_PATH (installed by deploy/dev/setup-browser).
"use strict";
const { chromium } = require("playwright-core");

async function main() {
  const [url, shot] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.IFC_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run",
      // WebRTC on a machine without network: loopback candidates, real IPs instead of mDNS names.
      "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
      "--autoplay-policy=no-user-gesture-required"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    page.on("console", (m) => process.stderr.write(`page: ${m.text()}\n`));
    await page.goto(url);
    const deadline = Date.now() + 30000;
    let first;
    for (;;) {
      first = await page.evaluate(() => window.whep.stats());
      if (first.error) throw new Error(first.error);
      if (first.framesDecoded > 0) break;
      if (Date.now() > deadline) throw new Error("no decoded frame in 30s: " + JSON.stringify(first));
      await page.waitForTimeout(100);
    }
    await page.waitForTimeout(2000);
    const second = await page.evaluate(() => window.whep.stats());
    const grab = await page.evaluate(() => window.whep.grab());
    await page.waitForTimeout(300); // let an overlay land for the picture
    await page.screenshot({ path: shot });
    await page.evaluate(() => window.whep.close());
    process.stdout.write(JSON.stringify({ first, second, grab }) + "\n");
  } finally {
    await browser.close();
  }
}

main().catch((e) => { process.stderr.write(String(e && e.stack || e) + "\n"); process.exit(1); });
