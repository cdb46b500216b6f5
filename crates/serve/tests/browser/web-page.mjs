// Drives the page of `charrnn export --format web` in headless Chromium, as a
// person would: wait for the model, type a prime and the options, press
// Generate, watch the text stream in.
//   node web-page.mjs URL PRIME LENGTH TEMPERATURE TOP_N SEED [SCREENSHOT.png]
//   node web-page.mjs URL --load-only      (only what the page says on loading)
// Prints {"text", "status", "grew", "loaded"} as JSON: `grew`, whether text
// appeared before the end; `loaded`, the status once the model was loaded.
import { launchChromium } from "./chromium.mjs";

const [url, prime, length, temperature, topN, seed, shot] = process.argv.slice(2);
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
  await page.goto(url);
  const settled = () => !document.querySelector("#go").disabled
    || document.querySelector("#status").textContent.startsWith("error");
  await page.waitForFunction(settled, null, { timeout: 30000 });
  const loaded = await page.textContent("#status");
  if (prime === "--load-only" || loaded.startsWith("error")) {
    console.log(JSON.stringify({ text: "", status: loaded, grew: false, loaded }));
  } else {
    await page.fill("#prime", prime);
    await page.fill("#length", length);
    await page.fill("#temperature", temperature);
    await page.fill("#top-n", topN);
    await page.fill("#seed", seed);
    await page.evaluate((primeLength) => {
      const out = document.querySelector("#out");
      window.grew = false;
      new MutationObserver(() => {
        const writing = document.querySelector("#status").textContent === "writing…";
        if (out.textContent.length > primeLength && writing) window.grew = true;
      }).observe(out, { childList: true, characterData: true, subtree: true });
    }, prime.length);
    await page.click("#go");
    await page.waitForFunction(() => /^(done|error)/.test(document.querySelector("#status").textContent),
                               null, { timeout: 120000 });
    const text = await page.textContent("#out");
    const status = await page.textContent("#status");
    if (shot) await page.screenshot({ path: shot, fullPage: true });
    console.log(JSON.stringify({ text, status, grew: await page.evaluate(() => window.grew), loaded }));
  }
} finally {
  await browser.close();
}
