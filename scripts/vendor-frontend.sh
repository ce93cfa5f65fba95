#!/usr/bin/env bash
# Rebuild the browser code the app serves itself (no CDN: the CSP allows scripts from 'self' only):
# CodeMirror 6 for the process owners' editor, from the npm registry, into one file,
# web/static/vendor/codemirror.js, with the licences of everything bundled beside it; and the bpmn-js viewer
# for the workbench's BPMN page, whose prebuilt file (and its two stylesheets) is copied as the registry has it,
# to web/static/vendor/bpmn-viewer.js, bpmn-js.css and diagram-js.css, with bpmn-viewer.LICENSE.txt.
#
# The built files are committed, so the app, its tests and CI need neither node nor npm. Run this only to
# change or update the editor or the viewer: edit frontend/package.json (exact versions), then
#   bash scripts/vendor-frontend.sh            # installs from the lockfile (a package new to package.json is
#                                              # added to it, the rest keep their pins), or writes it
#   bash scripts/vendor-frontend.sh --update   # re-resolves the lockfile from package.json
# and commit frontend/package-lock.json with the files in web/static/vendor/.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/web/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

command -v npm >/dev/null || { echo "npm is needed to rebuild the vendored editor (apt-get install npm)" >&2; exit 1; }

cp "$root/frontend/package.json" "$root/frontend/codemirror-entry.js" "$work/"
# Whether package.json names a dependency at a version the lockfile does not pin (one was added or changed).
out_of_step() {
  node - "$work" <<'JS'
const fs = require("fs"), path = require("path");
const work = process.argv[2];
const pkg = JSON.parse(fs.readFileSync(path.join(work, "package.json"), "utf8"));
const lock = JSON.parse(fs.readFileSync(path.join(work, "package-lock.json"), "utf8")).packages;
const wanted = { ...pkg.dependencies, ...pkg.devDependencies };
const stale = Object.entries(wanted).filter(([n, v]) => (lock[`node_modules/${n}`] || {}).version !== v);
process.exit(stale.length ? 0 : 1);
JS
}

if [[ "${1:-}" != "--update" && -f "$root/frontend/package-lock.json" ]]; then
  cp "$root/frontend/package-lock.json" "$work/"
  if out_of_step; then  # resolve only what changed; everything else keeps the version the lockfile pins
    (cd "$work" && npm install --no-audit --no-fund --ignore-scripts)
    cp "$work/package-lock.json" "$root/frontend/package-lock.json"
  else
    (cd "$work" && npm ci --no-audit --no-fund --ignore-scripts)
  fi
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
# bpmn-js's prebuilt file bundles its dependencies: their licences are those of the packages it depends on,
# all the way down (they are what its own build bundles).
node - "$work" "$out/codemirror.LICENSE.txt" "$out/bpmn-viewer.LICENSE.txt" <<'JS'
const fs = require("fs"), path = require("path");
const [work, codemirrorTarget, bpmnTarget] = process.argv.slice(2);
const meta = JSON.parse(fs.readFileSync(path.join(work, "meta.json"), "utf8"));
const packages = new Set();
for (const input of Object.keys(meta.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (m) packages.add(m[1]);
}
const bpmnPackages = new Set();
const visit = (name) => {
  if (bpmnPackages.has(name)) return;
  bpmnPackages.add(name);
  const pkg = JSON.parse(fs.readFileSync(path.join(work, "node_modules", name, "package.json"), "utf8"));
  Object.keys(pkg.dependencies || {}).forEach(visit);
};
visit("bpmn-js");
writeLicences(codemirrorTarget, "codemirror.js", "bundled into", packages);
writeLicences(bpmnTarget, "bpmn-viewer.js", "in bpmn-js's prebuilt", bpmnPackages);

function writeLicences(target, file, how, packages) {
let text = `Licences of the packages ${how} ${file} (built by scripts/vendor-frontend.sh).\n`;
for (const name of [...packages].sort()) {
  const dir = path.join(work, "node_modules", name);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  const file = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
  text += `\n${"=".repeat(78)}\n${name}@${pkg.version} (${pkg.license})\n${"=".repeat(78)}\n`;
  text += file ? fs.readFileSync(path.join(dir, file), "utf8").trim() + "\n" : `License: ${pkg.license}\n`;
}
fs.writeFileSync(target, text);
}
JS
echo "wrote $out/codemirror.js ($(wc -c <"$out/codemirror.js") bytes) and codemirror.LICENSE.txt"

# The viewer as bpmn-js publishes it (already minified, with its own licence banner); its stylesheets are
# served beside it because the app's CSP allows style from 'self' only.
bpmn="$work/node_modules/bpmn-js/dist"
cp "$bpmn/bpmn-viewer.production.min.js" "$out/bpmn-viewer.js"
cp "$bpmn/assets/bpmn-js.css" "$bpmn/assets/diagram-js.css" "$out/"
echo "wrote $out/bpmn-viewer.js ($(wc -c <"$out/bpmn-viewer.js") bytes), bpmn-js.css, diagram-js.css and bpmn-viewer.LICENSE.txt"
