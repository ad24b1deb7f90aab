// Builds keystage's static files from the npm packages into keystage/static/dist/ (not committed).
// Run by the set-up scripts; `npm run build` runs it by hand.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as sass from "sass";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "keystage", "static", "dist");
mkdirSync(out, { recursive: true });

const css = sass.compile(join(root, "frontend", "scss", "keystage.scss"), {
  loadPaths: [join(root, "node_modules")],
  style: "compressed",
  quietDeps: true,
  silenceDeprecations: ["import", "global-builtin"],
});
writeFileSync(join(out, "keystage.css"), css.css);

const govuk = join(root, "node_modules", "govuk-frontend", "dist", "govuk");
copyFileSync(join(govuk, "govuk-frontend.min.js"), join(out, "govuk-frontend.min.js"));
copyFileSync(join(root, "frontend", "js", "keystage.mjs"), join(out, "keystage.mjs"));

console.log(`built ${out} (${css.css.length} bytes of CSS)`);
