// The parts of CodeMirror 6 that web/static/workbench.js uses, exposed as one global (window.CodeMirror),
// so that the app serves a single self-hosted script and no page needs a module loader or a CDN.
import { basicSetup } from "codemirror";
import { EditorState } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { yaml } from "@codemirror/lang-yaml";
import { linter, lintGutter, forceLinting } from "@codemirror/lint";

window.CodeMirror = {
  basicSetup, EditorState, EditorView, keymap, indentWithTab, yaml, linter, lintGutter, forceLinting,
};
