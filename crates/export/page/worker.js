// Runs the model off the page's thread: loads the engine and the weights,
// then writes on request, posting each character as it is drawn.
import init, { Writer } from "./charrnn_web.js";

let writer;

async function load() {
  const started = performance.now();
  await init();
  const response = await fetch("model.safetensors");
  if (!response.ok) throw new Error(`model.safetensors: ${response.status} ${response.statusText}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const manifest = await (await fetch("charrnn.json")).json().catch(() => null);
  writer = new Writer(bytes);
  postMessage({ ready: true, ms: performance.now() - started, bytes: bytes.length,
                vocab: writer.vocabSize(), sample: manifest?.sample ?? null });
}

const loaded = load().catch((e) => postMessage({ error: e.message || String(e) }));

onmessage = async ({ data }) => {
  await loaded;
  if (!writer) return;
  const started = performance.now();
  let first = null;
  try {
    const text = writer.write(data.prime, data.length, data.temperature, data.topN, BigInt(data.seed),
      (c) => {
        first ??= performance.now() - started;
        postMessage({ char: c });
      });
    postMessage({ done: true, chars: [...text].length, ms: performance.now() - started, first });
  } catch (e) {
    postMessage({ error: e.message || String(e), during: "write" });
  }
};
