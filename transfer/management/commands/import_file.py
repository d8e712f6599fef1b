"""Import a file into a workspace from the command line (a migration from another CRM):
the same reading, matching and validation as the import wizard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from crm.access import AccessDenied
from crm.errors import DomainError
from crm.models import Membership, Role, Tenant
from crm.tenancy import tenant_context
from transfer import engine, selectors, services
from transfer.models import Entity, ImportJob, ImportMapping


class Command(BaseCommand):
    help = (
        "Import a CSV or XLSX file of leads, contacts, companies or deals into a workspace; "
        "prints created/updated/skipped/rejected and writes the rejected rows next to the file."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file")
        parser.add_argument("--tenant", required=True, help="The workspace's slug.")
        parser.add_argument("--entity", required=True, choices=Entity.values)
        parser.add_argument("--policy", default="skip", choices=ImportJob.Policy.values)
        parser.add_argument(
            "--match-by",
            default=ImportJob.MatchBy.CONTACTS,
            choices=ImportJob.MatchBy.values,
            help="What finds a duplicate: phone or e-mail (contacts), phone, email, external_id.",
        )
        parser.add_argument("--mapping", default="", help="A saved mapping's name.")
        parser.add_argument("--encoding", default="", help="Override the detected encoding.")
        parser.add_argument("--delimiter", default="", help="Override the detected delimiter.")
        parser.add_argument(
            "--as",
            dest="as_email",
            default="",
            help="Import as this member (e-mail); default: an administrator.",
        )
        parser.add_argument("--owner", default="", help="Owner of the new records (e-mail).")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No workspace with the slug {options['tenant']!r}.")
        delimiter = {"tab": "\t", "\\t": "\t"}.get(options["delimiter"], options["delimiter"])
        with tenant_context(tenant):
            actor = self._actor(options["as_email"])
            defaults = {}
            if options["owner"]:
                owner = Membership.objects.filter(user__email__iexact=options["owner"]).first()
                if owner is None:
                    raise CommandError(f"No member {options['owner']!r} in this workspace.")
                defaults["owner"] = owner.pk
            try:
                with path.open("rb") as handle:
                    upload = File(handle, name=path.name)
                    job = services.import_upload(
                        actor=actor, entity=options["entity"], upload=upload
                    )
                if options["mapping"]:
                    saved = ImportMapping.objects.filter(
                        entity=job.entity, name=options["mapping"]
                    ).first()
                    if saved is None:
                        raise CommandError(
                            f"No saved mapping {options['mapping']!r} for {job.entity}."
                        )
                    services.mapping_apply(actor=actor, job=job, mapping=saved)
                mapping = {int(i): k for i, k in job.mapping.items()}
                services.import_configure(
                    actor=actor,
                    job=job,
                    mapping=mapping,
                    encoding=options["encoding"],
                    delimiter=delimiter,
                )
                self._describe(job)
                services.import_start(
                    actor=actor,
                    job=job,
                    policy=options["policy"],
                    match_by=options["match_by"],
                    defaults=defaults,
                    background=False,
                )
            except (DomainError, AccessDenied) as error:
                raise CommandError(str(error)) from error
        engine.run(tenant, job.pk)
        with tenant_context(tenant):
            job.refresh_from_db()
            rejected = path.with_name(f"{path.stem}.rejected.csv")
            if job.rejected_count:
                with rejected.open("wb") as out:
                    for chunk in selectors.rejected_csv(job):
                        out.write(chunk)
        self.stdout.write(
            f"created {job.created_count}, updated {job.updated_count}, "
            f"skipped {job.skipped_count}, rejected {job.rejected_count}"
        )
        if job.rejected_count:
            self.stdout.write(f"rejected rows: {rejected}")
        if job.state != ImportJob.State.DONE:
            raise CommandError(f"The import ended {job.state}: {job.error}")

    def _actor(self, email: str) -> Membership:
        members = Membership.objects.filter(is_active=True).select_related("user", "role", "tenant")
        if email:
            actor = members.filter(user__email__iexact=email).first()
        else:
            actor = members.filter(role__kind=Role.Kind.ADMIN).order_by("pk").first()
        if actor is None:
            raise CommandError("No such active member in this workspace.")
        return actor

    def _describe(self, job: ImportJob) -> None:
        how = f"{job.file_format}"
        if job.encoding:
            how += f", {job.encoding}, delimiter {job.delimiter!r}"
        self.stderr.write(f"{job.filename}: {how}")
        for index, header in enumerate(job.headers):
            self.stderr.write(f"  {header!r} -> {job.mapping.get(str(index)) or '(skipped)'}")
