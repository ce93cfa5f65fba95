// The UI's only script, served from 'self' so that the Content-Security-Policy needs no inline script.
// Links marked data-print print the page (a `javascript:` URL would be inline script, which the CSP refuses).
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("[data-print]") : null;
  if (link) {
    event.preventDefault();
    window.print();
  }
});
