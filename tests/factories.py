"""Factories shared by every test folder. Tenant-owned rows take the active tenant."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from crm.models import Membership, Role, Team, Tenant, User
from crm.services import tenant_create
from crm.tenancy import current_tenant, tenant_context

PASSWORD = "correct-horse-battery"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name", locale="ru_RU")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


def make_tenant(slug: str, *, name: str | None = None, owner: User | None = None) -> Tenant:
    """A tenant created the real way (default roles, the owner as administrator)."""
    tenant, _admin = tenant_create(
        name=name or slug.title(), slug=slug, owner=owner or UserFactory()
    )
    return tenant


class TeamFactory(DjangoModelFactory):
    class Meta:
        model = Team

    tenant = factory.LazyFunction(current_tenant)
    name = factory.Sequence(lambda n: f"Team {n}")


class MembershipFactory(DjangoModelFactory):
    """A member of the active tenant with a built-in role: MembershipFactory(role__kind=...)."""

    class Meta:
        model = Membership

    class Params:
        kind = "manager"

    tenant = factory.LazyFunction(current_tenant)
    user = factory.SubFactory(UserFactory)
    role = factory.LazyAttribute(lambda o: Role.objects.get(kind=o.kind))


def add_member(tenant: Tenant, kind: str, **kwargs) -> Membership:
    """A new member of `tenant` holding the built-in role `kind`."""
    with tenant_context(tenant):
        return MembershipFactory(kind=kind, **kwargs)
