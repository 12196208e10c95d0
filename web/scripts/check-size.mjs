// The initial-JavaScript budget: every script that dist/index.html loads before the app runs
// (the entry module and its modulepreload links), gzipped at level 9, summed, must stay within
// 150 KB. Chunks loaded on demand (account, security and staff pages) are listed apart.
//
//   npm run build && npm run check:size       (BUDGET_KB=... to try another budget)
import { readdir, readFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

const dist = fileURLToPath(new URL("../dist/", import.meta.url));
const budget = Number(process.env.BUDGET_KB ?? 150) * 1024;
const html = await readFile(`${dist}index.html`, "utf8");
const initial = new Set(
  [...html.matchAll(/<(?:script[^>]*\bsrc|link[^>]*rel="modulepreload"[^>]*\bhref)="\/([^"]+\.js)"/g)].map((m) => m[1]),
);
const gz = async (file) => gzipSync(await readFile(`${dist}${file}`), { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

let total = 0;
for (const file of initial) {
  const size = await gz(file);
  total += size;
  console.log(`initial   ${kb(size).padStart(9)}  ${file}`);
}
const css = [...html.matchAll(/<link[^>]*rel="stylesheet"[^>]*href="\/([^"]+)"/g)].map((m) => m[1]);
for (const file of css) console.log(`css       ${kb(await gz(file)).padStart(9)}  ${file}`);
for (const file of (await readdir(`${dist}assets`)).filter((f) => f.endsWith(".js"))) {
  if (!initial.has(`assets/${file}`)) console.log(`on demand ${kb(await gz(`assets/${file}`)).padStart(9)}  assets/${file}`);
}
console.log(`initial JavaScript: ${kb(total)} gzipped (budget ${kb(budget)})`);
if (initial.size === 0) {
  console.error("check-size: no script found in dist/index.html");
  process.exit(1);
}
if (total > budget) {
  console.error("check-size: over budget");
  process.exit(1);
}
