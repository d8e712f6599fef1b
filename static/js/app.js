// Small progressive enhancements (no inline scripts: the CSP forbids them).
document.addEventListener("change", (event) => {
  const form = event.target.closest("form.js-autosubmit");
  if (form) form.submit();
});
document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
