/* Voronka web form widget: renders a small accessible form where its <script> tag sits (or
 * into the element named by data-target) and sends it as JSON to the channel's endpoint.
 * Served by /in/<token>/widget.js, which puts the channel's settings below as JSON.
 * No dependencies; builds the DOM with textContent only (no HTML from settings or answers). */
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

  function block(node) {
    node.style.display = "block";
    node.style.boxSizing = "border-box";
    return node;
  }

  var form = el("form", { "class": "voronka-form", novalidate: "", "data-voronka-form": "" });
  form.style.maxWidth = "28rem";
  if (CONFIG.title) {
    var title = el("p", { "class": "voronka-form__title", role: "heading", "aria-level": "2" }, CONFIG.title);
    title.style.fontWeight = "bold";
    title.style.fontSize = "1.25em";
    form.appendChild(title);
  }
  var controls = {};
  var errors = {};

  function addError(name, control) {
    var error = el("span", { "class": "voronka-form__error", id: prefix + name + "-error" });
    error.style.color = "#b00020";
    error.hidden = true;
    control.setAttribute("aria-describedby", error.id);
    errors[name] = error;
    return error;
  }

  CONFIG.fields.forEach(function (name) {
    var spec = INPUTS[name];
    if (!spec) { return; }
    var wrap = el("div", { "class": "voronka-form__field voronka-form__field--" + name });
    wrap.style.marginBottom = "0.75rem";
    var id = prefix + name;
    var control = el(spec.tag, { id: id, name: name });
    ["type", "autocomplete", "inputmode", "rows"].forEach(function (key) {
      if (spec[key]) { control.setAttribute(key, spec[key]); }
    });
    block(control).style.width = "100%";
    wrap.appendChild(block(el("label", { "for": id }, CONFIG.labels[name])));
    wrap.appendChild(control);
    wrap.appendChild(addError(name, control));
    controls[name] = control;
    form.appendChild(wrap);
  });

  if (CONFIG.consent) {
    var consentWrap = el("div", { "class": "voronka-form__field voronka-form__field--consent" });
    consentWrap.style.marginBottom = "0.75rem";
    var consent = el("input", { type: "checkbox", id: prefix + "consent", name: "consent", value: "yes", required: "" });
    consentWrap.appendChild(consent);
    consentWrap.appendChild(el("label", { "for": prefix + "consent" }, " " + CONFIG.consent));
    consentWrap.appendChild(block(addError("consent", consent)));
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

  var button = el("button", { type: "submit", "class": "voronka-form__button" }, CONFIG.button);
  button.style.padding = "0.5em 1.25em";
  button.style.cursor = "pointer";
  form.appendChild(button);
  var status = el("p", { "class": "voronka-form__status", role: "status", "aria-live": "polite" });
  form.appendChild(status);

  function showError(name, text) {
    var control = controls[name];
    var error = errors[name];
    if (!control || !error) { return false; }
    control.setAttribute("aria-invalid", "true");
    error.textContent = text;
    error.hidden = false;
    return true;
  }

  function clearErrors() {
    Object.keys(errors).forEach(function (name) {
      errors[name].hidden = true;
      errors[name].textContent = "";
      controls[name].removeAttribute("aria-invalid");
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
    button.disabled = true;
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
        button.disabled = false;
      });
    }).catch(function () {
      status.textContent = CONFIG.texts.failed;
      button.disabled = false;
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
