// Generate text in Node:  node generate.mjs MODEL.bimamba ["PROMPT"] [TOKENS]
// Greedy (temperature 0), so Node, Deno, browsers and Workers all print the same text.
import { loadModel } from 'bimamba';

const [modelPath, prompt = 'The history of', maxTokens = '64'] = process.argv.slice(2);
if (!modelPath) {
  console.error('usage: node generate.mjs MODEL.bimamba ["PROMPT"] [TOKENS]');
  process.exit(2);
}
const model = await loadModel(modelPath);
for await (const { text } of model.generate(prompt, { maxTokens: Number(maxTokens), temperature: 0 })) {
  process.stdout.write(text);
}
model.dispose();
