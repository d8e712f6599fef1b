// The top-bar search (templates/search/_box.html): "/" focuses the box (not while typing
// in another field), ↓/↑ move through the dropdown's results, Enter opens the chosen one —
// with none chosen the form is sent and the full results page opens —, Escape closes the
// dropdown. The dropdown itself comes from htmx as the member types.
"use strict";
(() => {
  const input = document.getElementById("top-search");
  const dropdown = document.getElementById("search-dropdown");
  if (!input || !dropdown) return;

  const results = () => Array.from(dropdown.querySelectorAll("[data-search-result]"));
  const chosen = () => results().findIndex((item) => item.classList.contains("active"));
  const isOpen = () => dropdown.querySelector(".dropdown-menu") !== null;

  function choose(index) {
    results().forEach((item, n) => {
      item.classList.toggle("active", n === index);
      item.setAttribute("aria-selected", n === index ? "true" : "false");
    });
    const item = results()[index];
    if (item) {
      input.setAttribute("aria-activedescendant", item.id);
      item.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function close() {
    dropdown.replaceChildren();
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function typing(target) {
    if (!target || !(target instanceof Element)) return false;
    return target.isContentEditable || target.matches("input, textarea, select");
  }

  document.addEventListener("keydown", (event) => {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    event.preventDefault();
    input.focus();
    input.select();
  });

  input.addEventListener("keydown", (event) => {
    const items = results();
    const current = chosen();
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!items.length) return;
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      const start = current < 0 ? (step > 0 ? -1 : items.length) : current;
      choose((start + step + items.length) % items.length);
    } else if (event.key === "Enter" && current >= 0 && items[current]) {
      event.preventDefault();
      window.location.assign(items[current].href);
    } else if (event.key === "Escape" && isOpen()) {
      event.preventDefault();
      close();
    }
  });

  // New results: nothing chosen yet; the box says whether a list is open.
  dropdown.addEventListener("htmx:afterSwap", () => {
    input.setAttribute("aria-expanded", isOpen() ? "true" : "false");
    input.removeAttribute("aria-activedescendant");
  });

  // A click elsewhere closes the dropdown; the mouse over a line chooses it.
  document.addEventListener("click", (event) => {
    if (!input.form.contains(event.target)) close();
  });
  dropdown.addEventListener("mousemove", (event) => {
    const item = event.target instanceof Element && event.target.closest("[data-search-result]");
    if (item) choose(results().indexOf(item));
  });
})();
