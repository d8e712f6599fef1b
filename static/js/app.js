// Small progressive enhancements (no inline scripts: the CSP forbids them).
document.addEventListener("change", (event) => {
  const form = event.target.closest("form.js-autosubmit");
  if (form) form.submit();
});
document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
// A form loaded by htmx into a <dialog> (the lead's conversion) opens it as a modal.
document.addEventListener("htmx:afterSwap", (event) => {
  const dialog = event.detail.target.closest("dialog");
  if (dialog && !dialog.open) dialog.showModal();
});
// Inside a dialog, "Cancel" closes it (without JavaScript it is a link back to the card).
document.addEventListener("click", (event) => {
  const link = event.target.closest("dialog .js-dialog-close");
  if (!link) return;
  event.preventDefault();
  link.closest("dialog").close();
});
