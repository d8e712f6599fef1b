// Boards (leads by status, deals by stage): drag a card to another column; the server moves
// it through the same service and rights as the card's own buttons. While a card is dragged,
// the columns it may not go to are dimmed; dropped on one anyway, or refused by the server
// for any reason, the card goes back and the server's reason is shown (app.js's in-place
// messages). The board names the POST field (data-field) and the move URL (data-move-url,
// with 0 for the card's id); a column with data-ask-reason first asks for a reason in the
// page's <dialog id="reason-dialog"> (cancelling puts the card back). A board marked
// data-readonly (the role moves nothing) has no dragging at all. A closed column marked
// data-collapsed is a compact drop zone: a card dropped there is moved, counted and removed.
(function () {
  "use strict";
  const board = document.getElementById("kanban");
  if (!board || !window.Sortable || board.dataset.readonly !== undefined) return;
  const csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];
  const dialog = document.getElementById("reason-dialog");
  const field = board.dataset.field || "status";
  const money = new Intl.NumberFormat(board.dataset.locale || "ru", { maximumFractionDigits: 0 });
  const say = window.voronka.showMessage;
  const toasts = document.getElementById("toasts");

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

  function hint(card) {
    // Dim the columns the card may not go to (null: the drag ended).
    board.querySelectorAll(".kanban-cards").forEach(function (list) {
      const column = list.closest(".kanban-column");
      const refused = card !== null && list !== card.parentElement && !allowed(card, list.dataset.target);
      column.classList.toggle("kanban-column--refused", refused);
    });
  }

  async function reason(response) {
    // The server's message: its in-place refusal (crm/views/errors.py), else a generic one.
    if (response.headers.get("HX-Retarget")) {
      const html = new DOMParser().parseFromString(await response.text(), "text/html");
      const text = html.body.textContent.trim();
      if (text) return text;
    }
    return toasts.dataset.serverError;
  }

  function askReason() {
    // Resolves with the chosen (or typed) reason, or null when cancelled.
    return new Promise(function (resolve) {
      const input = dialog.querySelector("[name=reason]");
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
    if (to.dataset.askReason !== undefined && dialog && allowed(card, event.to.dataset.target)) {
      const typed = await askReason();
      if (typed === null) {
        putBack(event);
        return;
      }
      body.set("reason", typed);
    }
    const url = board.dataset.moveUrl.replace("/0/", "/" + card.dataset.id + "/");
    let response;
    try {
      response = await fetch(url, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, "HX-Request": "true" },
      });
    } catch (error) {
      putBack(event);
      say(toasts.dataset.offline);
      return;
    }
    if (response.ok) {
      const html = await response.text();
      // A closed column is a drop zone: it counts the card and does not show it.
      if (to.dataset.collapsed !== undefined) card.remove();
      else card.outerHTML = html;
      adjust(from, -1, amount);
      adjust(to, 1, amount);
    } else {
      putBack(event);
      say(await reason(response));
    }
  }

  board.querySelectorAll(".kanban-cards").forEach(function (list) {
    window.Sortable.create(list, {
      group: board.dataset.field || "cards",
      animation: 120,
      sort: false,
      draggable: ".kanban-card",
      // A card's links and quick actions (call, done, plan) are clicked, not dragged.
      filter: "a, button, summary, details, input, select, label",
      preventOnFilter: false,
      onStart: function (event) { hint(event.item); },
      onEnd: function () { hint(null); },
      onAdd: drop,
    });
  });
})();
