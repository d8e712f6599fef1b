"""Accounts: sign-up, the workspace chooser, invitation links, health check."""

from __future__ import annotations

import logging

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from crm import ratelimit, services
from crm.errors import DomainError
from crm.forms import InvitationSignupForm, SignupForm, SignupPasswordForm
from crm.models import normalize_email
from crm.selectors import memberships_for_user, user_exists_for_email
from crm.urlnames import site_url, tenant_reverse

AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"

logger = logging.getLogger(__name__)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Send people where they work: their only workspace, or the chooser."""
    if not request.user.is_authenticated:
        return redirect("accounts:login")
    memberships = memberships_for_user(user=request.user)
    if len(memberships) == 1:
        return redirect(tenant_reverse("crm:home", memberships[0].tenant))
    return redirect("accounts:workspaces")


@login_required
@require_GET
def workspaces(request: HttpRequest) -> HttpResponse:
    """Every workspace the user belongs to; with ?fragment=switcher, the items of the tenant
    switcher (loaded when its menu opens), `current` the slug of the one to mark."""
    switcher = request.GET.get("fragment") == "switcher"
    return render(
        request,
        "accounts/workspaces.html#switcher" if switcher else "accounts/workspaces.html",
        {
            "memberships": memberships_for_user(user=request.user),
            "current": request.GET.get("current", ""),
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Step one: the person and the workspace. The answer is the same whether the address
    has an account or not; the e-mail sent to it says which (services.signup_request)."""
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None, initial={"language": request.LANGUAGE_CODE})
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        address = get_client_ip_address(request) or "unknown"
        if ratelimit.over_limit(f"signup:{address}", limit=settings.SIGNUP_PER_HOUR, window=3600):
            form.add_error(None, _("Too many sign-ups from your address: try again in an hour."))
            status = 429
        else:
            try:
                services.signup_request(
                    email=data["email"],
                    full_name=data["full_name"],
                    company=data["company"],
                    slug=data["slug"],
                    language=data["language"],
                    site=site_url(request),
                )
            except OSError:
                logger.exception("The sign-up e-mail could not be sent.")
                form.add_error(
                    None, _("We could not send the e-mail just now: try again in a few minutes.")
                )
                status = 503
            else:
                return redirect("accounts:signup_sent")
    return render(request, "accounts/signup.html", {"form": form}, status=status)


@require_GET
def signup_sent(request: HttpRequest) -> HttpResponse:
    """ "Check your inbox", whatever the address was."""
    return render(request, "accounts/signup_sent.html")


@never_cache
@require_http_methods(["GET", "POST"])
def signup_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """Step two, from the e-mailed link: choose a password; the account and the workspace
    are created and the person, its administrator, is logged in. A used link sends them to
    log in; a forged or expired one is a 404."""
    wanted = services.signup_resolve(token)
    if wanted is None:
        raise Http404
    translation.activate(wanted.language)
    if user_exists_for_email(email=wanted.email):
        messages.info(request, _("Your account is ready: log in."))
        return redirect("accounts:login")
    form = SignupPasswordForm(
        request.POST or None,
        email=wanted.email,
        full_name=wanted.full_name,
        initial={"slug": wanted.slug},
    )
    if request.method == "POST" and form.is_valid():
        try:
            user, tenant, _membership = services.user_signup(
                email=wanted.email,
                password=form.cleaned_data["password1"],
                full_name=wanted.full_name,
                tenant_name=wanted.company,
                slug=form.cleaned_data["slug"],
                language=wanted.language,
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            login(request, user, backend=AUTH_BACKEND)
            translation.activate(tenant.language)  # greet in the workspace's language
            messages.success(request, _("Welcome to Voronka! Your workspace is ready."))
            return redirect(tenant_reverse("crm:home", tenant))
    return render(
        request,
        "accounts/signup_confirm.html",
        {"form": form, "wanted": wanted},
        status=400 if form.errors else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Join a workspace from an invitation link: new people set a password, members log in."""
    invitation = services.invitation_resolve(token)
    if invitation is None:
        raise Http404
    if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
        translation.activate(invitation.tenant.language)  # speak the inviting team's language
    user = request.user
    if user.is_authenticated:
        if normalize_email(user.email) != invitation.email:
            return render(
                request,
                "accounts/invitation_wrong_user.html",
                {"invitation": invitation},
                status=403,
            )
        if request.method == "POST":
            try:
                services.invitation_accept(invitation=invitation, user=user)
            except DomainError as error:
                messages.error(request, error.message)
                return redirect("home")
            messages.success(request, _("You joined %(name)s.") % {"name": invitation.tenant.name})
            return redirect(tenant_reverse("crm:home", invitation.tenant))
        return render(request, "accounts/invitation_accept.html", {"invitation": invitation})
    if user_exists_for_email(email=invitation.email):
        messages.info(
            request,
            _("Log in with %(email)s to accept the invitation.") % {"email": invitation.email},
        )
        return redirect_to_login(request.get_full_path())
    form = InvitationSignupForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            new_user = services.user_signup_from_invitation(
                invitation=invitation,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            login(request, new_user, backend=AUTH_BACKEND)
            messages.success(request, _("You joined %(name)s.") % {"name": invitation.tenant.name})
            return redirect(tenant_reverse("crm:home", invitation.tenant))
    return render(
        request, "accounts/invitation_signup.html", {"invitation": invitation, "form": form}
    )


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database check for load balancers and docker-compose."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
