// The workbench editor, as progressive enhancement: without this script the page is a textarea with
// Validate and Save buttons. With it, the textarea becomes a CodeMirror 6 editor (web/static/vendor/
// codemirror.js, built by scripts/vendor-frontend.sh), the draft is checked by the server as one types
// (debounced), every problem is marked at its line, and the diagram preview follows the text.
(function () {
  "use strict";
  const CM = window.CodeMirror;
  const textarea = document.querySelector("textarea[data-editor]");
  if (!CM || !textarea) return;
  const form = textarea.form;
  const checkUrl = form.dataset.checkUrl;
  const token = form.querySelector("input[name=csrf_token]").value;
  const problemsBox = document.getElementById("problems");
  const preview = document.getElementById("preview");
  // The page's own words, in its language (data-* attributes of the problems' box), "%n" for the number.
  const words = problemsBox.dataset;

  function showProblems(problems) {
    problemsBox.replaceChildren();
    const notice = document.createElement("p");
    notice.className = "notice " + (problems.length ? "error" : "success");
    notice.textContent = problems.length ? words.bad.replace("%n", String(problems.length)) : words.ok;
    problemsBox.append(notice);
    if (!problems.length) return;
    const list = document.createElement("ul");
    for (const p of problems) {
      const item = document.createElement("li");
      item.dataset.line = String(p.line);
      const link = document.createElement("a");
      link.href = "#source";
      link.textContent = words.line.replace("%n", String(p.line));
      link.addEventListener("click", (event) => { event.preventDefault(); goToLine(p.line); });
      const code = document.createElement("code");
      code.textContent = p.code;
      item.append(link, ": ", code, " " + p.message);
      list.append(item);
    }
    problemsBox.append(list);
  }

  function showPreview(svg) {
    if (!svg) { preview.classList.add("stale"); return; }
    preview.classList.remove("stale");
    // Graphviz's SVG from our own server: Graphviz escapes every label, as on the case page.
    const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
    const root = doc.documentElement;
    if (root && root.nodeName === "svg") preview.replaceChildren(document.importNode(root, true));
  }

  async function check(view) {
    const source = view.state.doc.toString();
    const body = new FormData();
    body.append("csrf_token", token);
    body.append("source", source);
    let answer;
    try {
      const response = await fetch(checkUrl, { method: "POST", body, credentials: "same-origin",
                                               headers: { "Accept": "application/json" } });
      if (!response.ok) return [];
      answer = await response.json();
    } catch (error) {
      return [];  // offline or the server away: the Validate button still works
    }
    showProblems(answer.problems);
    showPreview(answer.svg);
    const doc = view.state.doc;
    return answer.problems.map((p) => {
      const line = doc.line(Math.min(Math.max(p.line, 1), doc.lines));
      return { from: line.from, to: Math.max(line.to, line.from), severity: "error", message: p.code + ": " + p.message };
    });
  }

  function goToLine(n) {
    const line = view.state.doc.line(Math.min(Math.max(n, 1), view.state.doc.lines));
    view.dispatch({ selection: { anchor: line.from }, scrollIntoView: true });
    view.focus();
  }

  // The editor lives in a shadow root: there CodeMirror's styles are constructed style sheets, which the
  // Content-Security-Policy (style-src 'self', no inline <style>) allows; in the document they would be a
  // <style> element, which it refuses.
  const host = document.createElement("div");
  host.className = "code-editor";
  const shadow = host.attachShadow({ mode: "open" });
  const readOnly = textarea.readOnly;
  const view = new CM.EditorView({
    doc: textarea.value,
    root: shadow,
    parent: shadow,
    extensions: [
      CM.EditorView.theme({
        "&": { height: "70vh", border: "1px solid #cfd5e2", borderRadius: "0.25rem", fontSize: "0.85rem",
               backgroundColor: "#fff" },
        "&.cm-focused": { outline: "2px solid #0172ad" },
        ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace", lineHeight: "1.45" },
      }),
      CM.basicSetup,
      CM.keymap.of([CM.indentWithTab]),
      CM.yaml(),
      CM.lintGutter(),
      CM.linter(check, { delay: 600 }),
      CM.EditorState.readOnly.of(readOnly),
      CM.EditorView.contentAttributes.of({ "aria-label": textarea.labels[0] ? textarea.labels[0].textContent : "YAML",
                                           "data-testid": "code-editor" }),
    ],
  });
  textarea.after(host);
  textarea.hidden = true;
  form.classList.add("enhanced");
  problemsBox.querySelectorAll("li[data-line] a").forEach((link) => {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      goToLine(Number(link.parentElement.dataset.line));
    });
  });
  // Both buttons send the editor's text: the textarea is what the form posts.
  form.addEventListener("submit", () => { textarea.value = view.state.doc.toString(); });
  window.workbenchEditor = view;  // for the browser tests, which type into it
})();
