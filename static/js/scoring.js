// The scoring rule form (templates/leads/scoring_rule_form.html): only the tests that apply
// to the chosen subject, and only the inputs the subject and test use. A section shows when
// one of the alternatives of its data-show-when ("a b|c": a and b, or c) holds for the
// chosen subject's tokens; a hidden section is disabled, so its inputs are not sent.
// Without JavaScript every input shows and the server reads the ones that apply.
(() => {
  const form = document.querySelector("form[data-scoring-rule]");
  if (!form) return;
  const subject = form.querySelector("select[name=subject]");
  const operator = form.querySelector("select[name=operator]");

  function activeTokens() {
    const option = subject.options[subject.selectedIndex];
    const allowed = option ? option.dataset.operators.split(" ") : [];
    for (const choice of operator.options) {
      choice.hidden = !allowed.includes(choice.value);
      choice.disabled = choice.hidden;
    }
    if (!allowed.includes(operator.value)) operator.value = allowed[0] || "";
    return new Set([
      `subject:${subject.value}`,
      `op:${operator.value}`,
      option ? option.dataset.kind : "",
      option ? option.dataset.values : "",
    ]);
  }

  function update() {
    const tokens = activeTokens();
    for (const section of form.querySelectorAll("[data-show-when]")) {
      const show = section.dataset.showWhen
        .split("|")
        .some((alternative) => alternative.trim().split(/\s+/).every((token) => tokens.has(token)));
      section.hidden = !show;
      section.disabled = !show;
    }
  }

  subject.addEventListener("change", update);
  operator.addEventListener("change", update);
  update();
})();
