// Boards (leads by status, deals by stage): drag a card to another column; the server moves
// it through the same service and rights as the card's own buttons. A refused move puts the
// card back with the reason. The board names the POST field (data-field) and the move URL
// (data-move-url, with 0 for the card's id); a column with data-ask-reason first asks for a
// reason in the page's <dialog id="reason-dialog"> (cancelling puts the card back).
(function () {
  "use strict";
  const board = document.getElementById("kanban");
  if (!board || !window.Sortable) return;
  const csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];
  const errorBox = document.getElementById("board-error");
  const dialog = document.getElementById("reason-dialog");
  const field = board.dataset.field || "status";
  const money = new Intl.NumberFormat(board.dataset.locale || "ru", { maximumFractionDigits: 0 });

  function adjust(column, delta, amount) {
    const count = column.querySelector(".js-count");
    const sum = column.querySelector(".js-sum");
    count.textContent = String(Number(count.textContent) + delta);
    const total = Number(sum.dataset.sum) + delta * amount;
    sum.dataset.sum = String(total);
    sum.textContent = money.format(total);
  }

  function allowed(card, target) {
    return (card.dataset.allowed || "").split(" ").includes(target);
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.classList.remove("d-none");
  }

  function askReason() {
    // Resolves with the typed reason, or null when cancelled.
    return new Promise(function (resolve) {
      const input = dialog.querySelector("input[name=reason]");
      input.value = "";
      dialog.addEventListener("close", function done() {
        dialog.removeEventListener("close", done);
        resolve(dialog.returnValue === "ok" ? input.value : null);
      });
      dialog.showModal();
      input.focus();
    });
  }

  function putBack(event) {
    event.from.insertBefore(event.item, event.from.children[event.oldIndex] || null);
  }

  async function drop(event) {
    const card = event.item;
    const from = event.from.closest(".kanban-column");
    const to = event.to.closest(".kanban-column");
    const amount = Number(card.dataset.amount || 0);
    const body = new URLSearchParams({ board: "1" });
    body.set(field, event.to.dataset.target);
    errorBox.classList.add("d-none");
    if (to.dataset.askReason !== undefined && dialog) {
      const reason = await askReason();
      if (reason === null) {
        putBack(event);
        return;
      }
      body.set("reason", reason);
    }
    const url = board.dataset.moveUrl.replace("/0/", "/" + card.dataset.id + "/");
    const response = await fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "HX-Request": "true" },
    });
    if (response.ok) {
      card.outerHTML = await response.text();
      adjust(from, -1, amount);
      adjust(to, 1, amount);
    } else {
      putBack(event);
      showError(await response.text());
    }
  }

  board.querySelectorAll(".kanban-cards").forEach(function (list) {
    window.Sortable.create(list, {
      group: board.dataset.field || "cards",
      animation: 120,
      sort: false,
      filter: "a",
      preventOnFilter: false,
      onMove: function (event) {
        return allowed(event.dragged, event.to.dataset.target);
      },
      onAdd: drop,
    });
  });
})();
