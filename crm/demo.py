"""The demo tenant that `make run` loads: a Russian-speaking team, one user per role."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from channels.demo import seed_demo_conversations
from contacts.demo import seed_demo_contacts
from crm import services
from crm.models import Membership, Role, Tenant, User
from crm.tenancy import tenant_context
from deals.demo import seed_demo_deals
from leads.demo import seed_demo_leads
from leads.demo_scoring import seed_demo_qualification

DEMO_SLUG = "demo"
DEMO_PASSWORD = "voronka-demo"  # noqa: S105 - printed to the operator on purpose: demo data only


@dataclass(frozen=True)
class DemoUser:
    email: str
    full_name: str
    role: str
    team: str | None
    leads_team: bool = False


DEMO_USERS = (
    DemoUser("admin@demo.voronka.local", "Анна Администратова", "admin", None),
    DemoUser("director@demo.voronka.local", "Дмитрий Директоров", "director", None),
    DemoUser(
        "lead@demo.voronka.local", "Ольга Руководова", "manager", "Отдел продаж", leads_team=True
    ),
    DemoUser("manager@demo.voronka.local", "Иван Менеджеров", "manager", "Отдел продаж"),
    DemoUser("manager2@demo.voronka.local", "Мария Продажина", "manager", "Отдел продаж"),
    DemoUser("marketer@demo.voronka.local", "Сергей Маркетов", "marketer", None),
)


def seed_demo() -> tuple[Tenant, bool]:
    """Create the demo tenant once; return it and whether it was created now."""
    existing = Tenant.objects.filter(slug=DEMO_SLUG).first()
    if existing is not None:
        return existing, False
    with transaction.atomic():
        users = {
            spec.email: User.objects.filter(email=spec.email).first()
            or User.objects.create_user(spec.email, DEMO_PASSWORD, full_name=spec.full_name)
            for spec in DEMO_USERS
        }
        admin_spec = DEMO_USERS[0]
        tenant, admin = services.tenant_create(
            name="ООО «Воронка Демо»", slug=DEMO_SLUG, owner=users[admin_spec.email], language="ru"
        )
        with tenant_context(tenant):
            roles = {role.kind: role for role in Role.objects.all()}
            teams = {}
            for spec in DEMO_USERS[1:]:
                member = Membership.objects.create(user=users[spec.email], role=roles[spec.role])
                if spec.team:
                    team = teams.get(spec.team) or services.team_save(
                        actor=admin, team=None, name=spec.team, lead=None
                    )
                    teams[spec.team] = team
                    services.member_update(actor=admin, member=member, role=member.role, team=team)
                    if spec.leads_team:
                        services.team_save(actor=admin, team=team, name=team.name, lead=member)
            seed_demo_leads(admin=admin)
            seed_demo_contacts(admin=admin)
            seed_demo_deals(admin=admin)
            seed_demo_qualification(admin=admin)
            seed_demo_conversations(admin=admin)
    return tenant, True
