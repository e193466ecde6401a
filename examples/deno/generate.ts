// Generate text in Deno:  deno run --allow-read generate.ts MODEL.bimamba ["PROMPT"] [TOKENS]
// Greedy (temperature 0), so Node, Deno, browsers and Workers all print the same text.
import { loadModel } from 'bimamba';

const [modelPath, prompt = 'The history of', maxTokens = '64'] = Deno.args;
if (!modelPath) {
  console.error('usage: deno run --allow-read generate.ts MODEL.bimamba ["PROMPT"] [TOKENS]');
  Deno.exit(2);
}
const model = await loadModel(modelPath);
const utf8 = new TextEncoder();
for await (const { text } of model.generate(prompt, { maxTokens: Number(maxTokens), temperature: 0 })) {
  await Deno.stdout.write(utf8.encode(text));
}
model.dispose();
