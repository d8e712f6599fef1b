// Lead board: drag a card to another column; the server moves it through the same service
// and rights as the card's status bar. A refused move puts the card back with the reason.
(function () {
  "use strict";
  const board = document.getElementById("kanban");
  if (!board || !window.Sortable) return;
  const csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];
  const errorBox = document.getElementById("board-error");
  const money = new Intl.NumberFormat(board.dataset.locale || "ru", { maximumFractionDigits: 0 });

  function adjust(column, delta, amount) {
    const count = column.querySelector(".js-count");
    const sum = column.querySelector(".js-sum");
    count.textContent = String(Number(count.textContent) + delta);
    const total = Number(sum.dataset.sum) + delta * amount;
    sum.dataset.sum = String(total);
    sum.textContent = money.format(total);
  }

  function allowed(card, status) {
    return (card.dataset.allowed || "").split(" ").includes(status);
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.classList.remove("d-none");
  }

  async function drop(event) {
    const card = event.item;
    const from = event.from.closest(".kanban-column");
    const to = event.to.closest(".kanban-column");
    const amount = Number(card.dataset.amount || 0);
    const body = new URLSearchParams({ status: to.dataset.status, board: "1" });
    const url = board.dataset.moveUrl.replace("/0/", "/" + card.dataset.lead + "/");
    errorBox.classList.add("d-none");
    const response = await fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "HX-Request": "true" },
    });
    if (response.ok) {
      card.outerHTML = await response.text();
      adjust(from, -1, amount);
      adjust(to, 1, amount);
    } else {
      event.from.insertBefore(card, event.from.children[event.oldIndex] || null);
      showError(await response.text());
    }
  }

  board.querySelectorAll(".kanban-cards").forEach(function (list) {
    window.Sortable.create(list, {
      group: "leads",
      animation: 120,
      sort: false,
      filter: "a",
      preventOnFilter: false,
      onMove: function (event) {
        return allowed(event.dragged, event.to.dataset.status);
      },
      onAdd: drop,
    });
  });
})();
