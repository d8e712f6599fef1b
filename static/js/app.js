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

// In-place messages (#toasts in base.html): refused htmx actions put theirs there
// (crm/views/errors.py); a failed or unreachable server gets a generic one, so no press of a
// button ends in silence. `showMessage` is also what the boards use.
const MAX_TOASTS = 3;
function showMessage(text) {
  const area = document.getElementById("toasts");
  if (!area) return;
  const alert = document.createElement("div");
  alert.className = "alert alert-danger alert-dismissible py-2 mb-2 shadow-sm";
  alert.setAttribute("role", "alert");
  alert.dataset.testid = "refusal";
  alert.textContent = text;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "btn-close py-2";
  close.dataset.bsDismiss = "alert";
  close.setAttribute("aria-label", area.dataset.close || "Close");
  alert.appendChild(close);
  area.appendChild(alert);
  trimMessages(area);
}
function trimMessages(area) {
  while (area.children.length > MAX_TOASTS) area.firstElementChild.remove();
}
window.voronka = { showMessage: showMessage };
document.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target.id === "toasts") trimMessages(event.detail.target);
});
document.addEventListener("htmx:responseError", () => {
  showMessage(document.getElementById("toasts").dataset.serverError);
});
document.addEventListener("htmx:sendError", () => {
  showMessage(document.getElementById("toasts").dataset.offline);
});
