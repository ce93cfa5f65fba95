// The workbench's BPMN page: draws the version's BPMN export with the vendored bpmn-js viewer. The file comes
// from the session-authenticated download route (the API wants a token). The outcome is left on the figure as
// data attributes, data-warnings (how many import warnings) or data-error, for people and tests alike.
(() => {
  const figure = document.getElementById("bpmn-viewer");
  const status = document.querySelector("[data-testid=bpmn-status]");
  if (!figure) return;

  const fail = (error) => {
    figure.dataset.error = String(error && error.message ? error.message : error);
    status.textContent = figure.dataset.failed;
    status.hidden = false;
  };
  if (typeof window.BpmnJS !== "function") {
    fail("the viewer did not load");
    return;
  }

  // The viewer sets the canvas's height itself (through the DOM, which the CSP allows; a style attribute
  // in the markup would not be).
  const viewer = new window.BpmnJS({ container: figure, height: "70vh" });
  window.bpmnViewer = viewer;
  fetch(figure.dataset.src, { credentials: "same-origin", headers: { Accept: "application/xml" } })
    .then((response) => {
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return response.text();
    })
    .then((xml) => viewer.importXML(xml))
    .then(({ warnings }) => {
      viewer.get("canvas").zoom("fit-viewport");
      figure.dataset.warnings = String(warnings.length);
      if (warnings.length) console.warn("BPMN import warnings", warnings);
    })
    .catch(fail);
})();
