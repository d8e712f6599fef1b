/* Voronka web form widget: renders a small accessible form where its <script> tag sits (or
 * into the element named by data-target) and sends it as JSON to the channel's endpoint.
 * Served by /in/<token>/widget.js, which puts the channel's settings below as JSON.
 * No dependencies; builds the DOM with textContent only (no HTML from settings or answers).
 * Styles are set through the CSSOM (element.style), which a host page's Content Security
 * Policy allows without 'unsafe-inline'; the form takes the page's font. data-style="none"
 * on the script tag leaves the look to the page's own CSS (the voronka-form__* classes). */
(function () {
  "use strict";
  var CONFIG = /*VORONKA_CONFIG*/null;
  if (!CONFIG) { return; }

  var script = document.currentScript ||
    document.querySelector('script[data-channel="' + CONFIG.token + '"]');
  if (!script) { return; }
  var endpoint = new URL(".", script.src).href;
  var counter = (window.__voronkaWidgets = (window.__voronkaWidgets || 0) + 1);
  var prefix = "voronka-" + counter + "-";
  var UTM = ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"];
  var INPUTS = {
    name: { tag: "input", type: "text", autocomplete: "name" },
    phone: { tag: "input", type: "tel", autocomplete: "tel", inputmode: "tel" },
    email: { tag: "input", type: "email", autocomplete: "email" },
    message: { tag: "textarea", rows: "3" }
  };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text) { node.textContent = text; }
    return node;
  }

  var styled = script.getAttribute("data-style") !== "none";
  var ACCENT = /^#[0-9a-fA-F]{6}$/.test(CONFIG.accent || "") ? CONFIG.accent : "#2457d6";

  // The button's text: white or dark, whichever contrasts more with the accent (WCAG).
  function luminance(hex) {
    var lum = [1, 3, 5].map(function (i) {
      var c = parseInt(hex.substr(i, 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2];
  }
  function onAccent(hex) {
    var accent = luminance(hex) + 0.05;
    return 1.05 / accent >= accent / (luminance("#1f2430") + 0.05) ? "#fff" : "#1f2430";
  }
  var LOOK = {
    form: { maxWidth: "28rem", padding: "1.25rem", border: "1px solid #dfe3ea", borderRadius: "12px",
            background: "#fff", color: "#1f2430", lineHeight: "1.45", boxShadow: "0 1px 3px rgba(16,24,40,.08)" },
    title: { fontWeight: "700", fontSize: "1.2em", margin: "0 0 1rem" },
    field: { marginBottom: "0.9rem" },
    label: { fontWeight: "600", fontSize: "0.9em", marginBottom: "0.3rem" },
    control: { padding: "0.55em 0.7em", border: "1px solid #c5ccd8", borderRadius: "8px",
               font: "inherit", color: "inherit", background: "#fff" },
    consent: { display: "flex", gap: "0.5rem", alignItems: "flex-start", fontSize: "0.9em" },
    error: { color: "#b3261e", fontSize: "0.85em", marginTop: "0.3rem" },
    button: { padding: "0.65em 1.4em", border: "0", borderRadius: "8px", background: ACCENT,
              color: onAccent(ACCENT), font: "inherit", fontWeight: "600", cursor: "pointer" },
    status: { margin: "0.75rem 0 0" }
  };

  // The look (unless data-style="none"); what the form needs to work is set apart.
  function look(node, name) {
    if (styled) {
      Object.keys(LOOK[name]).forEach(function (key) { node.style[key] = LOOK[name][key]; });
    }
    return node;
  }

  function block(node) {
    node.style.display = "block";
    node.style.boxSizing = "border-box";
    return node;
  }

  var form = look(el("form", { "class": "voronka-form", novalidate: "", "data-voronka-form": "" }), "form");
  form.style.boxSizing = "border-box";
  if (CONFIG.title) {
    form.appendChild(look(el("p", { "class": "voronka-form__title", role: "heading", "aria-level": "2" }, CONFIG.title), "title"));
  }
  var controls = {};
  var errors = {};

  function addError(name, control) {
    var error = block(look(el("span", { "class": "voronka-form__error", id: prefix + name + "-error" }), "error"));
    error.hidden = true;
    control.setAttribute("aria-describedby", error.id);
    errors[name] = error;
    return error;
  }

  CONFIG.fields.forEach(function (name) {
    var spec = INPUTS[name];
    if (!spec) { return; }
    var wrap = look(el("div", { "class": "voronka-form__field voronka-form__field--" + name }), "field");
    var id = prefix + name;
    var control = el(spec.tag, { id: id, name: name });
    ["type", "autocomplete", "inputmode", "rows"].forEach(function (key) {
      if (spec[key]) { control.setAttribute(key, spec[key]); }
    });
    look(block(control), "control").style.width = "100%";
    wrap.appendChild(look(block(el("label", { "for": id }, CONFIG.labels[name])), "label"));
    wrap.appendChild(control);
    wrap.appendChild(addError(name, control));
    controls[name] = control;
    form.appendChild(wrap);
  });

  if (CONFIG.consent) {
    var consentWrap = look(el("div", { "class": "voronka-form__field voronka-form__field--consent" }), "field");
    var consentRow = look(el("div", { "class": "voronka-form__consent" }), "consent");
    var consent = el("input", { type: "checkbox", id: prefix + "consent", name: "consent", value: "yes", required: "" });
    if (styled) { consent.style.marginTop = "0.2em"; consent.style.accentColor = ACCENT; }
    consentRow.appendChild(consent);
    consentRow.appendChild(el("label", { "for": prefix + "consent" }, " " + CONFIG.consent));
    consentWrap.appendChild(consentRow);
    consentWrap.appendChild(addError("consent", consent));
    controls.consent = consent;
    form.appendChild(consentWrap);
  }

  // The honeypot: off-screen and out of the tab order; people never fill it in, bots do.
  var trap = el("div", { "aria-hidden": "true" });
  trap.style.position = "absolute";
  trap.style.left = "-10000px";
  trap.style.width = "1px";
  trap.style.height = "1px";
  trap.style.overflow = "hidden";
  var trapInput = el("input", { type: "text", id: prefix + "hp", name: CONFIG.honeypot, tabindex: "-1", autocomplete: "off" });
  trap.appendChild(el("label", { "for": prefix + "hp" }, CONFIG.labels.honeypot));
  trap.appendChild(trapInput);
  form.appendChild(trap);

  var button = look(el("button", { type: "submit", "class": "voronka-form__button" }, CONFIG.button), "button");
  form.appendChild(button);
  var status = look(el("p", { "class": "voronka-form__status", role: "status", "aria-live": "polite" }), "status");
  form.appendChild(status);

  function busy(flag) {
    button.disabled = flag;
    if (styled) { button.style.opacity = flag ? "0.6" : ""; }
  }

  function showError(name, text) {
    var control = controls[name];
    var error = errors[name];
    if (!control || !error) { return false; }
    control.setAttribute("aria-invalid", "true");
    if (styled && control.type !== "checkbox") { control.style.borderColor = LOOK.error.color; }
    error.textContent = text;
    error.hidden = false;
    return true;
  }

  function clearErrors() {
    Object.keys(errors).forEach(function (name) {
      errors[name].hidden = true;
      errors[name].textContent = "";
      controls[name].removeAttribute("aria-invalid");
      if (styled && controls[name].type !== "checkbox") {
        controls[name].style.borderColor = LOOK.control.border.split(" ").pop();
      }
    });
    status.textContent = "";
  }

  function value(name) {
    return controls[name] ? controls[name].value.trim() : "";
  }

  function validate() {
    var problems = [];
    var phone = value("phone");
    var email = value("email");
    if (phone && phone.replace(/\D/g, "").length < 5) { problems.push(["phone", CONFIG.texts.phone]); }
    if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) { problems.push(["email", CONFIG.texts.email]); }
    if (!phone && !email) {
      var target = controls.phone ? "phone" : "email";
      problems.push([target, controls.phone && controls.email ? CONFIG.texts.contact : CONFIG.texts.required]);
    }
    if (controls.consent && !controls.consent.checked) { problems.push(["consent", CONFIG.texts.consent]); }
    return problems;
  }

  function payload() {
    var data = {};
    Object.keys(controls).forEach(function (name) {
      if (name === "consent") {
        if (controls.consent.checked) { data.consent = "yes"; }
      } else if (value(name)) {
        data[name] = value(name);
      }
    });
    data[CONFIG.honeypot] = trapInput.value;
    data.page_url = window.location.href;
    if (document.referrer) { data.referrer = document.referrer; }
    var query = new URLSearchParams(window.location.search);
    UTM.forEach(function (key) {
      if (query.get(key)) { data[key] = query.get(key); }
    });
    return data;
  }

  function finish(text) {
    Array.prototype.forEach.call(form.children, function (child) {
      if (child !== status) { child.hidden = true; }
    });
    status.textContent = text;
    if (styled) { status.style.margin = "0"; status.style.fontWeight = "600"; }
    form.setAttribute("data-voronka-sent", "");
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    var problems = validate();
    if (problems.length) {
      problems.forEach(function (problem) { showError(problem[0], problem[1]); });
      status.textContent = problems[0][1];
      controls[problems[0][0]].focus();
      return;
    }
    busy(true);
    status.textContent = CONFIG.texts.sending;
    fetch(endpoint, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(payload())
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.ok && body.status === "ok") {
          finish(body.message || CONFIG.thanks);
          return;
        }
        var fields = body.fields || {};
        var first = null;
        Object.keys(fields).forEach(function (name) {
          if (showError(name, fields[name]) && !first) { first = name; }
        });
        status.textContent = body.error || CONFIG.texts.failed;
        if (first) { controls[first].focus(); }
        busy(false);
      });
    }).catch(function () {
      status.textContent = CONFIG.texts.failed;
      busy(false);
    });
  });

  var target = script.getAttribute("data-target");
  var host = null;
  if (target) {
    try { host = document.querySelector(target); } catch (error) { host = null; }
    host = host || document.getElementById(target);
  }
  if (host) {
    host.appendChild(form);
  } else {
    script.parentNode.insertBefore(form, script.nextSibling);
  }
})();
