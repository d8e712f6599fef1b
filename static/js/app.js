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

// A long <select data-searchable> (the time zones) gets a search box above it: typing
// keeps the options whose text or data-search words hold every typed word, shows them as an
// open list and selects the first when the chosen one is filtered out. Without JavaScript it
// is the plain grouped <select>.
function makeSearchable(select) {
  const box = document.createElement("input");
  box.type = "search";
  box.className = "form-control form-control-sm mb-1";
  box.placeholder = select.dataset.searchLabel || "";
  box.setAttribute("aria-label", select.dataset.searchLabel || "");
  box.setAttribute("aria-controls", select.id);
  box.autocomplete = "off";
  box.dataset.testid = "select-search";
  select.before(box);
  const options = Array.from(select.options).map((option) => ({
    option: option,
    words: (option.textContent + " " + (option.dataset.search || "")).toLowerCase(),
  }));
  box.addEventListener("input", () => {
    const query = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    options.forEach((item) => {
      const match = query.every((word) => item.words.includes(word));
      item.option.hidden = !match;
      if (match) shown += 1;
    });
    select.querySelectorAll("optgroup").forEach((group) => {
      group.hidden = !Array.from(group.children).some((option) => !option.hidden);
    });
    // An open list while searching; the usual drop-down again once the box is empty.
    if (query.length) select.size = Math.max(2, Math.min(8, shown));
    else select.removeAttribute("size");
    const chosen = select.options[select.selectedIndex];
    if (query.length && (!chosen || chosen.hidden)) {
      const first = options.find((item) => !item.option.hidden);
      if (first) first.option.selected = true;
    }
  });
  box.addEventListener("keydown", (event) => {
    // Enter or ↓ moves to the list instead of sending the form half-chosen.
    if (event.key === "Enter" || event.key === "ArrowDown") {
      event.preventDefault();
      select.focus();
    }
  });
}
document.querySelectorAll("select[data-searchable]").forEach(makeSearchable);

// Progress bars: the width comes from data-percent (the CSP forbids inline styles).
document.addEventListener("htmx:load", (event) => {
  for (const bar of event.target.querySelectorAll("[data-percent]")) {
    bar.style.width = `${bar.dataset.percent}%`;
  }
});

// A conversation's thread shows its newest message: scrolled to the bottom when it loads or
// changes (templates/channels/_conversation.html).
document.addEventListener("htmx:load", (event) => {
  const threads = event.target.matches?.(".conversation-thread")
    ? [event.target]
    : event.target.querySelectorAll(".conversation-thread");
  for (const thread of threads) thread.scrollTop = thread.scrollHeight;
});
