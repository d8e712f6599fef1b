// Analytics charts drawn with the vendored Chart.js (static/vendor/chartjs, loaded before
// this file). Every <canvas data-chart="ID"> is drawn from the spec in
// <script type="application/json" id="ID"> (Django's json_script; templates/analytics/
// _chart.html writes both). The spec, built by the server:
//   {"kind": "bar"|"hbar"|"line"|"doughnut"|"sparkline", "labels": [...],
//    "unit": "count"|"money"|"percent"|"minutes"|"seconds", "currency": "RUB", "stacked": false,
//    "datasets": [{"label": "...", "data": [n|null, ...], "urls": [url|null, ...],
//                  "previous": false}]}
// Money is in major units (roubles), percent in percentage points (12.5 means 12.5 %), and a
// number may come as a string (json_script writes a Decimal so). A point with a url is a
// link: the pointer shows over it and a click goes there. Numbers are formatted in the
// page's language (<html lang>); the duration words come from the canvas's data-day,
// data-hour, data-minute, data-second and data-under-minute (translated by the server);
// "minutes" are whole minutes, shown as the server shows them ("< 1 min" below one). Content swapped in by
// htmx is drawn too (its json_script is read from the response: htmx drops <script> tags); a
// canvas is drawn once, and redrawn only when its spec changed.
(function () {
  "use strict";
  if (!window.Chart) return;
  const Chart = window.Chart;
  const lang = document.documentElement.lang || "en";
  const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  // Okabe–Ito: told apart with every common kind of colour blindness.
  const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#6C757D", "#F0E442"];
  const GRID = "rgba(0, 0, 0, 0.08)";
  const drawn = new Set();
  const specs = new Map(); // json_script id → its text, kept after htmx dropped the <script>

  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#495057";

  function tint(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + ", " + ((n >> 8) & 255) + ", " + (n & 255) + ", " + alpha + ")";
  }

  function duration(seconds, words) {
    // The largest part and the next one when it is not zero: "2 d 3 h", "1 h 5 min", "45 s".
    const units = [[86400, words.day], [3600, words.hour], [60, words.minute], [1, words.second]];
    let left = Math.round(Math.abs(seconds));
    const counts = units.map(function (unit) {
      const count = Math.floor(left / unit[0]);
      left -= count * unit[0];
      return count;
    });
    const first = counts.findIndex(function (count) { return count > 0; });
    if (first < 0) return "0\u00a0" + words.second;
    const shown = [counts[first] + "\u00a0" + units[first][1]];
    if (first < 3 && counts[first + 1]) shown.push(counts[first + 1] + "\u00a0" + units[first + 1][1]);
    return (seconds < 0 ? "−" : "") + shown.join(" ");
  }

  function durationStep(spec, scale) {
    // Ticks at whole minutes, hours or days rather than at 500 s (`scale`: seconds a unit).
    let max = 0;
    (spec.labels || []).forEach(function (_, i) {
      let sum = 0;
      spec.datasets.forEach(function (set) {
        const v = Math.abs(Number(set.data[i]) || 0) * scale;
        sum = spec.stacked ? sum + v : Math.max(sum, v);
      });
      max = Math.max(max, sum);
    });
    const steps = [[86400, [1, 2, 5, 7, 10, 14, 30]], [3600, [1, 2, 3, 6, 12]], [60, [1, 2, 5, 10, 15, 30]], [1, [1, 2, 5, 10, 15, 30]]];
    const step = steps.find(function (s) { return max >= 2 * s[0]; }) || steps[3];
    const wanted = max / step[0] / 5;
    const nice = step[1].find(function (n) { return n >= wanted; });
    return Math.max(step[0] * (nice || Math.ceil(wanted / 10) * 10) / scale, 1);
  }

  function formatter(spec, words) {
    // (value, short) → text; short: an axis tick, where money drops its kopecks.
    const unit = spec.unit || "count";
    if (unit === "seconds") return function (value) { return duration(value, words); };
    if (unit === "minutes") {
      return function (value) {
        return value >= 0 && value < 1 ? words.underMinute : duration(Math.floor(value) * 60, words);
      };
    }
    let full, short;
    if (unit === "money") {
      const currency = spec.currency || "RUB";
      const cents = new Intl.NumberFormat(lang, { style: "currency", currency: currency });
      short = new Intl.NumberFormat(lang, { style: "currency", currency: currency, maximumFractionDigits: 0 });
      // Kopecks only where there are some: "250 000 ₽", "250 000,50 ₽".
      full = { format: function (value) { return (Number.isInteger(value) ? short : cents).format(value); } };
    } else if (unit === "percent") {
      full = short = new Intl.NumberFormat(lang, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
      return function (value) { return full.format(value / 100); };
    } else {
      full = short = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
    }
    return function (value, isShort) { return (isShort ? short : full).format(value); };
  }

  function datasets(spec) {
    const doughnut = spec.kind === "doughnut";
    let current = 0;
    let previous = 0;
    return (spec.datasets || []).map(function (set) {
      // A previous period's series takes the colour of the series it is compared with.
      const colour = PALETTE[(set.previous ? previous++ : current++) % PALETTE.length];
      const data = (set.data || []).map(function (v) { return v === null || v === "" ? null : Number(v); });
      const out = { label: set.label || "", data: data, urls: set.urls || [], previous: !!set.previous };
      if (doughnut) {
        const colours = data.map(function (_, i) { return PALETTE[i % PALETTE.length]; });
        out.backgroundColor = set.previous ? colours.map(function (c) { return tint(c, 0.35); }) : colours;
        out.borderColor = "#fff";
      } else if (spec.kind === "line" || spec.kind === "sparkline") {
        out.borderColor = set.previous ? tint(colour, 0.45) : colour;
        out.backgroundColor = tint(colour, spec.kind === "sparkline" ? 0.12 : 0.2);
        out.borderDash = set.previous ? [6, 4] : [];
        out.borderWidth = spec.kind === "sparkline" ? 1.5 : 2;
        out.pointRadius = spec.kind === "sparkline" ? 0 : 3;
        out.pointHoverRadius = 4;
        out.fill = spec.kind === "sparkline";
        out.tension = 0.25;
      } else {
        out.backgroundColor = set.previous ? tint(colour, 0.3) : colour;
        out.borderColor = colour;
        out.borderWidth = set.previous ? 1 : 0;
        out.borderRadius = 2;
      }
      return out;
    });
  }

  function urlAt(chart, event) {
    const hit = chart.getElementsAtEventForMode(event, "nearest", { intersect: true }, true)[0];
    if (!hit) return null;
    return chart.data.datasets[hit.datasetIndex].urls[hit.index] || null;
  }

  function config(spec, words) {
    const format = formatter(spec, words);
    const kind = spec.kind;
    const sparkline = kind === "sparkline";
    const type = { hbar: "bar", sparkline: "line" }[kind] || kind;
    const options = {
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        legend: {
          display: !sparkline && (kind === "doughnut" || spec.datasets.length > 1),
          position: "bottom",
          labels: { boxWidth: 12 },
        },
        tooltip: {
          callbacks: {
            label: function (item) {
              const value = item.raw === null ? "—" : format(item.raw, false);
              if (sparkline) return value;
              const name = kind === "doughnut" ? item.label : item.dataset.label;
              return name ? name + ": " + value : value;
            },
          },
        },
      },
      onHover: function (event, elements, chart) {
        chart.canvas.style.cursor = urlAt(chart, event) ? "pointer" : "";
      },
      onClick: function (event, elements, chart) {
        const url = urlAt(chart, event);
        if (url) window.location.assign(url);
      },
    };
    if (sparkline) options.plugins.tooltip.callbacks.title = function () { return ""; };
    if (still) {
      options.animation = false;
      options.transitions = { active: { animation: { duration: 0 } } };
    }
    if (kind === "doughnut") {
      options.cutout = "60%";
    } else {
      const value = {
        display: !sparkline,
        stacked: !!spec.stacked,
        beginAtZero: true,
        grid: { color: GRID },
        ticks: { callback: function (v) { return format(v, true); } },
      };
      if ((spec.unit || "count") === "count") value.ticks.precision = 0;
      if (spec.unit === "seconds") value.ticks.stepSize = durationStep(spec, 1);
      if (spec.unit === "minutes") value.ticks.stepSize = durationStep(spec, 60);
      const category = { display: !sparkline, stacked: !!spec.stacked, grid: { display: false } };
      options.scales = kind === "hbar" ? { x: value, y: category } : { x: category, y: value };
      if (kind === "hbar") options.indexAxis = "y";
      options.interaction = kind === "line" ? { mode: "index", intersect: false } : { mode: "nearest", intersect: true };
    }
    if (sparkline) {
      options.interaction = { mode: "index", intersect: false };
      options.layout = { padding: 2 };
    }
    return { type: type, data: { labels: spec.labels || [], datasets: datasets(spec) }, options: options };
  }

  function remember(root) {
    root.querySelectorAll('script[type="application/json"][id]').forEach(function (script) {
      specs.set(script.id, script.textContent);
    });
  }

  function draw(canvas) {
    const id = canvas.dataset.chart;
    const source = document.getElementById(id);
    if (source) specs.set(id, source.textContent);
    const text = specs.get(id);
    if (text === undefined) return;
    const existing = Chart.getChart(canvas);
    if (existing) {
      if (existing.$voronkaSource === text) return;
      existing.destroy();
      drawn.delete(existing);
    }
    let spec;
    try {
      spec = JSON.parse(text);
    } catch (error) {
      console.warn("charts.js: unreadable chart spec", canvas.dataset.chart);
      return;
    }
    if (!spec || !Array.isArray(spec.datasets)) return;
    const words = {
      day: canvas.dataset.day || "d",
      hour: canvas.dataset.hour || "h",
      minute: canvas.dataset.minute || "min",
      second: canvas.dataset.second || "s",
      underMinute: canvas.dataset.underMinute || "< 1 min",
    };
    if (spec.kind === "hbar") {
      // A bar per label: the box grows with them (CSSOM, which the CSP allows).
      const rows = (spec.labels || []).length * Math.max(1, spec.stacked ? 1 : spec.datasets.length);
      canvas.parentElement.style.height = Math.max(160, rows * 26 + 60) + "px";
    }
    const chart = new Chart(canvas, config(spec, words));
    chart.$voronkaSource = text;
    drawn.add(chart);
  }

  function drawAll(root) {
    // Charts whose canvas an htmx swap took out are let go (their resize observers too).
    drawn.forEach(function (chart) {
      if (!chart.canvas || !chart.canvas.isConnected) {
        chart.destroy();
        drawn.delete(chart);
      }
    });
    const scope = root && root.querySelectorAll ? root : document;
    if (scope.matches && scope.matches("canvas[data-chart]")) draw(scope);
    scope.querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  drawAll(document);
  // htmx takes every <script> out of what it swaps in (allowScriptTags: false in base.html),
  // json_script's too: the specs are read from the response before the swap.
  document.addEventListener("htmx:beforeSwap", function (event) {
    const response = event.detail.serverResponse;
    if (typeof response === "string" && response.indexOf("application/json") !== -1) {
      remember(new DOMParser().parseFromString(response, "text/html"));
    }
  });
  document.addEventListener("htmx:load", function (event) { drawAll(event.target); });
  document.addEventListener("htmx:afterSwap", function (event) { drawAll(event.detail.target); });
})();
