#!/usr/bin/env bash
# Rebuild the browser code the app serves itself (no CDN: the CSP allows scripts from 'self' only):
# CodeMirror 6 for the process owners' editor, from the npm registry, into one file,
# web/static/vendor/codemirror.js, with the licences of everything bundled beside it.
#
# The built files are committed, so the app, its tests and CI need neither node nor npm. Run this only to
# change or update the editor: edit frontend/package.json (exact versions), then
#   bash scripts/vendor-frontend.sh            # installs from the lockfile, or writes it if there is none
#   bash scripts/vendor-frontend.sh --update   # re-resolves the lockfile from package.json
# and commit frontend/package-lock.json with the two files in web/static/vendor/.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/web/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

command -v npm >/dev/null || { echo "npm is needed to rebuild the vendored editor (apt-get install npm)" >&2; exit 1; }

cp "$root/frontend/package.json" "$root/frontend/codemirror-entry.js" "$work/"
if [[ "${1:-}" != "--update" && -f "$root/frontend/package-lock.json" ]]; then
  cp "$root/frontend/package-lock.json" "$work/"
  (cd "$work" && npm ci --no-audit --no-fund --ignore-scripts)
else
  (cd "$work" && npm install --no-audit --no-fund --ignore-scripts)
  cp "$work/package-lock.json" "$root/frontend/package-lock.json"
fi

mkdir -p "$out"
# One IIFE that sets window.CodeMirror; minified, with no source map (the sources are on the registry at the
# versions the lockfile pins). --legal-comments=none: the licences go into the file written below instead.
(cd "$work" && node_modules/.bin/esbuild codemirror-entry.js --bundle --minify --format=iife \
  --target=es2020 --legal-comments=none --charset=utf8 --outfile="$out/codemirror.js")

# The licence of every package that went into the bundle, by name and version.
(cd "$work" && node_modules/.bin/esbuild codemirror-entry.js --bundle --format=iife --metafile=meta.json \
  --outfile=/dev/null --log-level=warning)
node - "$work" "$out/codemirror.LICENSE.txt" <<'JS'
const fs = require("fs"), path = require("path");
const [work, target] = process.argv.slice(2);
const meta = JSON.parse(fs.readFileSync(path.join(work, "meta.json"), "utf8"));
const packages = new Set();
for (const input of Object.keys(meta.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (m) packages.add(m[1]);
}
let text = "Licences of the packages bundled into codemirror.js (built by scripts/vendor-frontend.sh).\n";
for (const name of [...packages].sort()) {
  const dir = path.join(work, "node_modules", name);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  const file = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
  text += `\n${"=".repeat(78)}\n${name}@${pkg.version} (${pkg.license})\n${"=".repeat(78)}\n`;
  text += file ? fs.readFileSync(path.join(dir, file), "utf8").trim() + "\n" : `License: ${pkg.license}\n`;
}
fs.writeFileSync(target, text);
JS
echo "wrote $out/codemirror.js ($(wc -c <"$out/codemirror.js") bytes) and codemirror.LICENSE.txt"
