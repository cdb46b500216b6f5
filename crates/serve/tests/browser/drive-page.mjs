// Drives the page at `/` in headless Chromium, as a person would: give the
// token, type a prime and a length, press Generate, watch the text stream in.
//   node drive-page.mjs URL TOKEN [SCREENSHOT.png] [PRIME] [LENGTH]
// Prints {"text", "status", "grew"} as JSON.
import { chromium } from "playwright-core";

const [url, token, shot, prime = "abc", length = "60"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 640 } });
  await page.goto(url);
  await page.fill("#token", token);
  await page.dispatchEvent("#token", "change");
  await page.fill("#prime", prime);
  await page.fill("#length", length);
  await page.click("#go");
  // Text appears before the end: it streams.
  await page.waitForFunction((p) => document.querySelector("#out").textContent.length > p.length,
                             prime, { timeout: 20000 });
  const grew = await page.evaluate(() => document.querySelector("#status").textContent);
  await page.waitForFunction(() => document.querySelector("#status").textContent.startsWith("done"),
                             null, { timeout: 90000 });
  const text = await page.textContent("#out");
  const status = await page.textContent("#status");
  if (shot) await page.screenshot({ path: shot, fullPage: true });
  console.log(JSON.stringify({ text, status, grew }));
} finally {
  await browser.close();
}
