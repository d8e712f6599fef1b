"""Qualification frameworks: BANT and CHAMP as ready-made questionnaires (seed 002).

Each question is what a manager asks the client, with the kind of answer it takes: an
amount (the budget), one of a few choices (who decides, how soon) or free text (the need).
Answers live on the lead (`Lead.qualification[framework][question]`); a tenant switches each
framework on in its qualification settings, and scoring rules may test the answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from crm.amounts import parse_amount

MONEY, CHOICE, TEXT = "money", "choice", "text"
TEXT_MAX = 500


@dataclass(frozen=True)
class Question:
    key: str
    label: str | Promise
    ask: str | Promise  # the question the manager asks the client
    kind: str
    choices: tuple[tuple[str, str | Promise], ...] = ()

    def clean(self, value: Any) -> Any:
        """The stored form of an answer ("" or None when unanswered); ValueError when bad."""
        if value is None:
            return None if self.kind == MONEY else ""
        text = " ".join(str(value).split())
        if self.kind == MONEY:
            if not text:
                return None
            try:
                amount = parse_amount(text)
            except ValueError:
                raise ValueError(_("Enter an amount, e.g. 150 000 or 1,5 млн.")) from None
            if amount < 0:
                raise ValueError(_("Enter an amount, e.g. 150 000 or 1,5 млн."))
            return str(amount)
        if self.kind == CHOICE:
            if text and text not in dict(self.choices):
                raise ValueError(_("Choose one of the answers."))
            return text
        return text[:TEXT_MAX]

    def display(self, value: Any) -> str:
        if value in (None, ""):
            return ""
        if self.kind == CHOICE:
            return str(dict(self.choices).get(value, value))
        return str(value)


@dataclass(frozen=True)
class Framework:
    key: str
    label: str
    description: str | Promise
    questions: tuple[Question, ...]

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == key), None)


AUTHORITY = (
    ("decides", _("Decides alone")),
    ("influences", _("Influences the decision")),
    ("no", _("Does not decide")),
)
TIMING = (
    ("now", _("This month")),
    ("quarter", _("Within three months")),
    ("year", _("Within a year")),
    ("none", _("No date")),
)
PRIORITY = (
    ("high", _("We are the first choice")),
    ("medium", _("Comparing with others")),
    ("low", _("Prefers a competitor")),
)

FRAMEWORKS: dict[str, Framework] = {
    "bant": Framework(
        "bant",
        "BANT",
        _("Budget, authority, need, timing"),
        (
            Question(
                "budget", _("Budget"), _("How much are you ready to spend on the project?"), MONEY
            ),
            Question(
                "authority",
                _("Authority"),
                _("Who finally approves the estimate and accepts the work?"),
                CHOICE,
                AUTHORITY,
            ),
            Question("need", _("Need"), _("What exactly do you want done, and why?"), TEXT),
            Question(
                "timing",
                _("Timing"),
                _("How soon do you need it? Should we start as early as Monday?"),
                CHOICE,
                TIMING,
            ),
        ),
    ),
    "champ": Framework(
        "champ",
        "CHAMP",
        _("Challenges, authority, money, prioritization"),
        (
            Question(
                "challenges",
                _("Challenges"),
                _("Why did the need arise? What problem are you solving?"),
                TEXT,
            ),
            Question(
                "authority",
                _("Authority"),
                _("Can you make the purchase decision yourself?"),
                CHOICE,
                AUTHORITY,
            ),
            Question("money", _("Money"), _("What amount are you counting on?"), MONEY),
            Question(
                "prioritization",
                _("Prioritization"),
                _("How do we compare with the others you are considering?"),
                CHOICE,
                PRIORITY,
            ),
        ),
    ),
}


def answers_of(qualification: Any, framework: str) -> dict[str, Any]:
    """A lead's answers for one framework (an empty dict when none or malformed)."""
    if not isinstance(qualification, dict):
        return {}
    answers = qualification.get(framework)
    return answers if isinstance(answers, dict) else {}


def completeness(qualification: Any, framework: Framework) -> tuple[int, int]:
    """(answered, total) questions of `framework` on a lead."""
    answers = answers_of(qualification, framework.key)
    answered = sum(1 for q in framework.questions if answers.get(q.key) not in (None, ""))
    return answered, len(framework.questions)


def clean_answers(framework: Framework, data: dict[str, Any]) -> tuple[dict[str, Any], dict]:
    """The framework's answers from form `data` (keys are question keys) and the errors by
    question: every question is read, a bad one does not stop the others."""
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for question in framework.questions:
        try:
            answers[question.key] = question.clean(data.get(question.key))
        except ValueError as error:
            errors[question.key] = str(error)
    return answers, errors
