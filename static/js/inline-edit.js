// Inline editing of a card's field (crm/inline.py, components/_inline_form.html): the input
// opens focused with its text selected, Enter saves, Esc cancels. Without JavaScript the
// card's full edit form does the same.
document.addEventListener("keydown", (event) => {
  const form = event.target.closest ? event.target.closest("form.inline-form") : null;
  if (!form) return;
  if (event.key === "Escape") {
    event.preventDefault();
    const cancel = form.querySelector(".js-inline-cancel");
    if (cancel) cancel.click();
    return;
  }
  if (event.key !== "Enter" || event.isComposing) return;
  if (event.target.matches(".js-inline-picker")) {
    // The search box of a record choice: Enter goes to the list it filled.
    event.preventDefault();
    const select = form.querySelector("select");
    if (select) select.focus();
    return;
  }
  if (event.target.matches("input, select")) {
    // Inputs, lists and checkboxes alike (a <select> or a date does not submit by itself).
    event.preventDefault();
    form.requestSubmit();
  }
});
// A freshly loaded editor (its first load, or again with an error) takes the focus once.
document.addEventListener("htmx:afterSettle", () => {
  document.querySelectorAll("form.inline-form[data-inline-fresh]").forEach((form) => {
    delete form.dataset.inlineFresh;
    const field = form.querySelector("[autofocus]");
    if (!field) return;
    field.focus();
    if (typeof field.select === "function" && field.type !== "date") field.select();
  });
});
