// The scoring form's live total, grade and pay coefficient (web/templates/appraisal/scoring_form.html), as
// progressive enhancement: as the supervisor records, the form's values go to the server's preview, which
// scores them with the engine's own rules and stores nothing. No rule lives here: without this script the
// form is sent as it is, and the server answers with the same scoring and the same messages.
(function () {
  "use strict";
  const DELAY = 250; // ms after the last keystroke: one request per pause, not one per key

  function setText(element, text) {
    if (element) element.textContent = text;
  }

  function attach(box) {
    const form = box.closest("form");
    const url = box.dataset.previewUrl;
    if (!form || !url) return;
    let timer = 0;
    let sent = 0;

    function markInputs(name, invalid) {
      for (const input of box.querySelectorAll("input")) {
        if (input.name === name) {
          if (invalid) input.setAttribute("aria-invalid", "true");
          else input.removeAttribute("aria-invalid");
        }
      }
    }

    function show(answer) {
      const result = answer.result;
      setText(box.querySelector("[data-total]"), result ? result.total : "—");
      setText(box.querySelector("[data-grade]"), result ? result.grade : "—");
      setText(box.querySelector("[data-coefficient]"), result ? result.pay_coefficient : "—");
      for (const element of box.querySelectorAll("[data-section-score]")) {
        const score = answer.sections[element.dataset.sectionScore];
        element.textContent = score === undefined ? "" : "= " + score;
      }
      for (const element of box.querySelectorAll("[data-goal-points]")) {
        const points = answer.goals[element.dataset.goalPoints];
        element.textContent = points === undefined ? "" : "= " + points;
      }
      for (const message of box.querySelectorAll("[data-message-for]")) {
        const name = message.dataset.messageFor;
        const text = answer.problems[name] || "";
        message.textContent = text;
        message.hidden = !text;
        markInputs(name, Boolean(text));
        const item = message.closest(".sheet-item");
        if (item) item.classList.toggle("has-error", Boolean(text));
      }
      const open = new Set(answer.unscored || []);
      for (const item of box.querySelectorAll(".sheet-item")) {
        const inputs = Array.from(item.querySelectorAll("input")).map((input) => input.name);
        item.classList.toggle("unscored", inputs.some((name) => open.has(name)));
      }
      box.dataset.previewed = String(sent);
    }

    async function refresh() {
      const ticket = ++sent;
      let answer;
      try {
        const response = await fetch(url, {
          method: "POST", body: new FormData(form), credentials: "same-origin",
          headers: { "Accept": "application/json" },
        });
        if (!response.ok) return; // the server decides on sending; the figures just stay as they were
        answer = await response.json();
      } catch (error) {
        return; // offline: sending the form still works
      }
      if (ticket === sent) show(answer); // an answer overtaken by a later change is dropped
    }

    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, DELAY);
    }

    box.addEventListener("input", later);
    box.addEventListener("change", later);
    refresh();
  }

  for (const box of document.querySelectorAll("[data-scoring-form][data-preview-url]")) attach(box);
})();
