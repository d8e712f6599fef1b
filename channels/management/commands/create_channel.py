"""Provision a channel from a script: prints its public endpoint path (and the API token)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from channels.adapters import adapter_for
from channels.forms import config_form
from channels.models import ChannelKind
from channels.services import channel_create
from crm.access import AccessDenied
from crm.errors import DomainError
from crm.models import Tenant
from crm.selectors import assignable_members
from crm.services import system_actor
from crm.tenancy import tenant_context

# Convenience flags for common kind options (the same as --option NAME=VALUE).
OPTION_FLAGS = {
    "bot_token": "--bot-token",
    "allowed_origins": "--allowed-origins",
    "imap_host": "--imap-host",
    "imap_port": "--imap-port",
    "imap_security": "--imap-security",
    "imap_user": "--imap-user",
    "imap_password": "--imap-password",
    "imap_folder": "--folder",
    "account_sid": "--account-sid",
    "auth_token": "--auth-token",
    "api_key": "--api-key",
    "api_secret": "--api-secret",
    "app_secret": "--app-secret",  # whatsapp
    "phone_number_id": "--phone-number-id",  # whatsapp
    "group_id": "--group-id",  # vk
    "confirmation": "--confirmation",  # vk
    "secret_key": "--secret-key",  # vk
    "access_token": "--access-token",  # whatsapp: replies (Cloud API)
    "community_token": "--community-token",  # vk: replies (messages.send)
    "smtp_host": "--smtp-host",  # email: replies
    "smtp_port": "--smtp-port",
    "smtp_security": "--smtp-security",
    "smtp_user": "--smtp-user",
    "smtp_password": "--smtp-password",
    "smtp_from": "--smtp-from",
}


class Command(BaseCommand):
    help = (
        "Create an inbound channel in a tenant and print its public endpoint path "
        "(and, for the api and pbx kinds, its token; for whatsapp, its verify token; for "
        "telephony kinds, the path of each callback; for email, the raw-mail secret)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="The tenant's slug")
        parser.add_argument("--kind", required=True, choices=ChannelKind.values)
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--secret",
            default="",
            help="Use this secret instead of a new one (whatsapp: the verify token)",
        )
        parser.add_argument("--owner", default="", help="E-mail of the member who gets the leads")
        parser.add_argument(
            "--create-deal", action="store_true", help="Open a deal for every submission"
        )
        for name, flag in OPTION_FLAGS.items():
            parser.add_argument(flag, dest=name, default=None)
        parser.add_argument(
            "--option",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="A kind option (see the channel's settings form), repeatable",
        )

    def _config(self, kind: str, options: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for item in options["option"]:
            name, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--option expects NAME=VALUE, got {item!r}.")
            values[name.strip()] = value
        values.update({k: options[k] for k in OPTION_FLAGS if options.get(k) is not None})
        form = config_form(kind, None)
        if form is None:
            if values:
                raise CommandError(f"The {kind} kind has no options.")
            return {}
        data = {f"config-{name}": value for name, value in values.items()}
        for name, field in form.fields.items():
            if name not in values and field.initial is not None:
                data[f"config-{name}"] = field.initial
        unknown = set(values) - set(form.fields)
        if unknown:
            raise CommandError(
                f"Unknown option(s) {', '.join(sorted(unknown))}; "
                f"the {kind} kind has: {', '.join(form.fields)}."
            )
        form = config_form(kind, data)
        if not form.is_valid():
            errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
            raise CommandError(f"Invalid options: {errors}")
        return form.cleaned_data

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant {options['tenant']!r}.")
        kind = options["kind"]
        with tenant_context(tenant):
            owner = None
            if options["owner"]:
                owner = assignable_members().filter(user__email__iexact=options["owner"]).first()
                if owner is None:
                    raise CommandError(f"{options['owner']} is not an active member here.")
            try:
                channel = channel_create(
                    actor=system_actor(tenant),
                    kind=kind,
                    name=options["name"],
                    config=self._config(kind, options),
                    default_owner=owner,
                    create_deal=options["create_deal"],
                    secret=options["secret"],
                )
            except (DomainError, AccessDenied) as error:
                raise CommandError(str(error)) from error
            endpoint = reverse("inbound", kwargs={"token": channel.token})
            self.stdout.write(endpoint)
            for label, path in adapter_for(kind).endpoint_paths:
                self.stdout.write(f"{label}: {endpoint}{path}")
            if kind in (ChannelKind.API, ChannelKind.PBX):
                self.stdout.write(f"API token: {channel.secret}")
            if kind == ChannelKind.EMAIL:
                self.stdout.write(f"Raw-mail secret (Bearer or Basic password): {channel.secret}")
                if channel.config.get("imap_host"):
                    config = channel.config
                    self.stdout.write(
                        f"IMAP: {config['imap_user']}@{config['imap_host']}:"
                        f"{config['imap_port']} ({config['imap_security']}), "
                        f"folder {config['imap_folder']}, polled every minute"
                    )
            if kind == ChannelKind.WHATSAPP:
                self.stdout.write(f"Verify token: {channel.secret}")
            if channel.config.get("webhook_error"):
                self.stderr.write(f"Webhook not registered yet: {channel.config['webhook_error']}")
