// Drives the page at `/` in headless Chromium, as a person would: give the
// token, type a prime and a length, press Generate, watch the text stream in.
//   node drive-page.mjs URL TOKEN [SCREENSHOT.png] [PRIME] [LENGTH]
// Prints {"text", "status", "grew", "updates"} as JSON: the status when the
// text first grew, and how many times it grew.
import { launchChromium } from "./chromium.mjs";

const [url, token, shot, prime = "abc", length = "60"] = process.argv.slice(2);
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 640 } });
  await page.goto(url);
  await page.fill("#token", token);
  await page.dispatchEvent("#token", "change");
  await page.fill("#prime", prime);
  await page.fill("#length", length);
  // Text appears before the end: it streams. An observer notes the status the
  // first time the text grows past the prime, and how many times it grows;
  // polling on animation frames instead missed the start of a fast stream
  // when the browser drew few frames (a busy machine).
  await page.evaluate((primeLength) => {
    const out = document.querySelector("#out");
    const seen = (window.seen = { grew: null, updates: 0 });
    new MutationObserver(() => {
      if (out.textContent.length <= primeLength) return;
      seen.updates += 1;
      seen.grew ??= document.querySelector("#status").textContent;
    }).observe(out, { childList: true, characterData: true, subtree: true });
  }, prime.length);
  await page.click("#go");
  await page.waitForFunction(() => window.seen.grew !== null, null, { timeout: 20000 });
  await page.waitForFunction(() => document.querySelector("#status").textContent.startsWith("done"),
                             null, { timeout: 90000 });
  const text = await page.textContent("#out");
  const status = await page.textContent("#status");
  const { grew, updates } = await page.evaluate(() => window.seen);
  if (shot) await page.screenshot({ path: shot, fullPage: true });
  console.log(JSON.stringify({ text, status, grew, updates }));
} finally {
  await browser.close();
}
