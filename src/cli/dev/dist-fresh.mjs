// `npm run mlakit` in the repository: exit 0 when dist/cli/main.js is newer than every file under
// src/ (then the script runs it as it is), else 1 (then it runs tsc first). A stat walk of src/
// takes tens of milliseconds where tsc takes seconds. Not part of the package.
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const newest = (dir) => readdirSync(dir, { withFileTypes: true }).reduce((m, e) => Math.max(m, e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs), 0);
const main = join(root, "dist", "cli", "main.js");
process.exit(existsSync(main) && newest(join(root, "src")) < statSync(main).mtimeMs ? 0 : 1);
