// Drives Debian's chromium headless with playwright-core for tests/hub/test_page.py.
// Reads one JSON command per line on stdin, answers one JSON line on stdout:
//   {"op":"open","url":U} {"op":"fill","sel":S,"value":V} {"op":"select","sel":S,"value":V}
//   {"op":"click","sel":S} {"op":"wait","js":EXPR,"timeout":MS} {"op":"eval","js":EXPR} {"op":"quit"}
"use strict";
const readline = require("readline");
const { chromium } = require("playwright-core");

(async () => {
  const ctx = await chromium.launchPersistentContext(process.env.PAGE_PROFILE, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run"],
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    let c;
    try { c = JSON.parse(line); } catch (e) { out({ ok: false, error: "bad command" }); continue; }
    try {
      if (c.op === "quit") break;
      if (c.op === "open") await page.goto(c.url, { timeout: 15000 });
      else if (c.op === "fill") await page.fill(c.sel, c.value);
      else if (c.op === "select") await page.selectOption(c.sel, c.value);
      else if (c.op === "click") await page.click(c.sel);
      else if (c.op === "wait") await page.waitForFunction(c.js, null, { timeout: c.timeout || 10000 });
      out({ ok: true, value: c.op === "eval" || c.op === "wait" ? await page.evaluate(c.js) : null });
    } catch (e) {
      out({ ok: false, error: String(e.message || e).split("\n")[0] });
    }
  }
  await ctx.close();
  process.exit(0);
})().catch((e) => { process.stdout.write(JSON.stringify({ ok: false, error: String(e) }) + "\n"); process.exit(1); });
