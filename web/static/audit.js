// The replay's slider: without this script it is a form with a button; with it, letting go of the slider
// shows that moment at once.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form.replay-slider");
  if (!form) return;
  const slider = form.querySelector("input[type=range]");
  slider.addEventListener("change", () => form.submit());
});
