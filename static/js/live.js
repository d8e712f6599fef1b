// Live arrivals (crm/live.py, docs/decisions/014): every open page of a member who works
// with leads asks every ≈1.5 s whether their inbox changed. Unchanged: 204 from the
// server's short path (no SQL). Changed: JSON with the new rows, the counts, the bell; the
// leads that arrived are highlighted until opened (remembered in localStorage, so across
// reloads and tabs), counted on the Inbox link, and announced by sound or a browser
// notification when the member chose so (/<slug>/me/alerts/).
(() => {
  "use strict";
  const INTERVAL = 1500;
  const KEEP_MS = 3 * 24 * 3600 * 1000;

  // --- Sound: a short two-tone chime, made here (no file to load). Browsers start audio
  // only after a gesture on the page: the context is opened at the first click or key.
  let audio = null;
  function openAudio() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!audio) audio = new Context();
    if (audio.state === "suspended") audio.resume();
    return audio;
  }
  document.addEventListener("pointerdown", openAudio, { once: true });
  document.addEventListener("keydown", openAudio, { once: true });
  function chime() {
    const context = openAudio();
    if (!context) return;
    const now = context.currentTime;
    [880, 1320].forEach((frequency, i) => {
      const tone = context.createOscillator();
      const gain = context.createGain();
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, now + i * 0.16);
      gain.gain.exponentialRampToValueAtTime(0.2, now + i * 0.16 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.16 + 0.3);
      tone.connect(gain).connect(context.destination);
      tone.start(now + i * 0.16);
      tone.stop(now + i * 0.16 + 0.32);
    });
  }

  function showNotification(title, body, url, onOpen) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const note = new Notification(title, { body, tag: url || title });
    note.onclick = () => {
      window.focus();
      if (onOpen) onOpen();
      if (url) window.location.href = url;
      note.close();
    };
  }

  // --- The alerts page: asking for the browser's permission needs a click -------------
  const alertsForm = document.querySelector("[data-live-alerts]");
  if (alertsForm) {
    const desktop = alertsForm.querySelector("input[name=desktop]");
    const note = alertsForm.querySelector("[data-live-permission]");
    const say = (text) => {
      note.textContent = text || "";
      note.hidden = !text;
    };
    const check = () => {
      if (!desktop.checked) return say("");
      if (!("Notification" in window)) return say(alertsForm.dataset.unsupported);
      if (Notification.permission === "denied") return say(alertsForm.dataset.denied);
      say("");
    };
    desktop.addEventListener("change", () => {
      if (desktop.checked && "Notification" in window && Notification.permission === "default") {
        Notification.requestPermission().then(check);
      } else {
        check();
      }
    });
    check();
    const tryButton = alertsForm.querySelector("[data-live-try]");
    tryButton.addEventListener("click", () => {
      if (alertsForm.querySelector("input[name=sound]").checked) chime();
      if (desktop.checked) {
        showNotification(tryButton.dataset.title, tryButton.dataset.body, "", null);
      }
    });
  }

  const config = document.getElementById("live");
  if (!config) return;
  const root = config.dataset.leadsRoot;
  const storeKey = `voronka.live.${config.dataset.key}`;
  const seenKey = `${storeKey}.seen`;
  const inbox = document.querySelector("[data-live-inbox]");
  // New rows go on top of the inbox's first page only (not an older page, not another sort).
  const params = new URLSearchParams(window.location.search);
  const insertRows = inbox && !params.has("after") && !params.has("sort");
  let versions = config.dataset.v;
  let token = config.dataset.token;

  // --- Arrivals not opened yet: {lead id: when it arrived} ---------------------------
  function load(key = storeKey) {
    try {
      return JSON.parse(window.localStorage.getItem(key)) || {};
    } catch (error) {
      return {};
    }
  }
  function save(unopened, key = storeKey) {
    const now = Date.now();
    Object.keys(unopened).forEach((id) => {
      if (now - unopened[id] > KEEP_MS) delete unopened[id];
    });
    try {
      window.localStorage.setItem(key, JSON.stringify(unopened));
    } catch (error) {
      /* private mode: the highlight lasts as long as the page */
    }
  }
  function opened(id) {
    const unopened = load();
    if (!(id in unopened)) return;
    delete unopened[id];
    save(unopened);
    const row = document.getElementById(`lead-${id}`);
    if (row) row.classList.remove("live-arrival");
    show(unopened);
  }

  function show(unopened) {
    const count = Object.keys(unopened).length;
    const link = document.querySelector("a[data-nav=inbox]");
    if (link) {
      let badge = link.querySelector("[data-testid=inbox-badge]");
      if (count && !badge) {
        badge = document.createElement("span");
        badge.className = "badge rounded-pill text-bg-warning ms-1";
        badge.dataset.testid = "inbox-badge";
        link.appendChild(badge);
      }
      if (badge) {
        if (count) badge.textContent = String(count);
        else badge.remove();
      }
      if (badge && count) badge.title = config.dataset.badgeTitle;
    }
    Object.keys(unopened).forEach((id) => {
      const row = document.getElementById(`lead-${id}`);
      if (row) row.classList.add("live-arrival");
    });
  }

  // The card of a lead is open: it is no longer new to this person.
  const onCard = window.location.pathname.match(/\/leads\/(\d+)\/$/);
  if (onCard && window.location.pathname.startsWith(root)) opened(onCard[1]);
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (!link) return;
    const match = new URL(link.href, window.location.href).pathname.match(/\/leads\/(\d+)\/$/);
    if (match) opened(match[1]);
  });
  // Another tab opened one: follow.
  window.addEventListener("storage", (event) => {
    if (event.key !== storeKey) return;
    const unopened = load();
    document.querySelectorAll("tr.live-arrival").forEach((row) => {
      if (!(row.id.replace("lead-", "") in unopened)) row.classList.remove("live-arrival");
    });
    show(unopened);
  });
  show(load());

  function setBell(count) {
    const bell = document.querySelector("[data-testid=bell]");
    if (!bell) return;
    let badge = bell.querySelector("[data-testid=unread]");
    if (count && !badge) {
      badge = document.createElement("span");
      badge.className = "badge rounded-pill text-bg-danger";
      badge.dataset.testid = "unread";
      bell.appendChild(badge);
    }
    if (badge) {
      if (count) badge.textContent = String(count);
      else badge.remove();
    }
  }

  function putRows(html, arrived) {
    const body = document.getElementById("lead-rows");
    if (!body || !html) return;
    const template = document.createElement("template");
    template.innerHTML = html;
    const rows = Array.from(template.content.querySelectorAll("tr"));
    let added = false;
    rows.reverse().forEach((row) => {
      if (document.getElementById(row.id)) return;
      if (arrived.has(row.id.replace("lead-", ""))) row.classList.add("live-arrival");
      body.insertBefore(row, body.firstElementChild);
      if (window.htmx) window.htmx.process(row);
      added = true;
    });
    if (added) body.querySelectorAll("tr.empty").forEach((row) => row.remove());
  }

  function apply(data) {
    versions = data.v;
    token = data.token;
    setBell(data.unread);
    const unopened = load();
    // Each arrival counts once, whichever of the person's tabs sees it first.
    const seen = load(seenKey);
    const fresh = data.arrivals.filter((lead) => !(String(lead.id) in seen));
    fresh.forEach((lead) => {
      unopened[lead.id] = Date.now();
      seen[lead.id] = Date.now();
    });
    save(seen, seenKey);
    data.gone.forEach((id) => {
      delete unopened[id];
      const row = document.getElementById(`lead-${id}`);
      if (row && inbox) {
        row.classList.remove("live-arrival");
        row.classList.add("live-gone");
        row.querySelectorAll("button").forEach((button) => {
          button.disabled = true;
        });
      }
    });
    save(unopened);
    if (insertRows) {
      putRows(data.rows, new Set(data.arrivals.map((lead) => String(lead.id))));
      const counts = document.querySelector("[data-testid=source-counts]");
      if (counts && data.counts !== undefined) counts.innerHTML = data.counts;
    }
    show(unopened);
    if (!fresh.length) return;
    if (config.dataset.sound === "1") chime();
    if (config.dataset.desktop === "1" && document.hidden) {
      const first = fresh[0];
      const more = fresh.length > 1 ? ` (+${fresh.length - 1})` : "";
      showNotification(config.dataset.title, first.title + more, first.url, () =>
        opened(String(first.id)),
      );
    }
  }

  let failures = 0;
  function next(delay) {
    window.setTimeout(poll, delay + Math.floor(Math.random() * 300));
  }
  function poll() {
    const query = new URLSearchParams(insertRows ? window.location.search : "");
    query.set("v", versions);
    if (insertRows) query.set("rows", "1");
    fetch(`${config.dataset.url}?${query}`, {
      headers: { "X-Live-Token": token },
      credentials: "same-origin",
      redirect: "manual",
      cache: "no-store",
    })
      .then((response) => {
        if (response.status === 204) return null;
        const json = (response.headers.get("Content-Type") || "").includes("application/json");
        if (!response.ok || !json) {
          // Logged out, no longer a member, no right to see leads: stop asking.
          if (response.type === "opaqueredirect" || [403, 404].includes(response.status)) {
            throw new Error("stop");
          }
          throw new Error(`HTTP ${response.status}`);
        }
        return response.json();
      })
      .then((data) => {
        if (data) apply(data);
        failures = 0;
        next(INTERVAL);
      })
      .catch((error) => {
        if (error.message === "stop") return;
        failures += 1;
        next(Math.min(60000, INTERVAL * 2 ** failures));
      });
  }
  next(INTERVAL);
})();
