"""Factories for organisations and people, so a test says only what matters to it."""

from __future__ import annotations

import factory

from keystage.accounts.models import Membership, User
from keystage.organisations.models import LocalAuthority, School, Trust

PASSWORD = "correct-horse-battery-staple"


class LocalAuthorityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LocalAuthority
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"{800 + n:03d}")
    name = factory.LazyAttribute(lambda o: f"Authority {o.code}")


class TrustFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trust

    name = factory.Sequence(lambda n: f"Trust {n}")
    companies_house_number = factory.Sequence(lambda n: f"{10000000 + n}")


class SchoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = School

    la = factory.SubFactory(LocalAuthorityFactory)
    name = factory.Sequence(lambda n: f"School {n}")
    urn = factory.Sequence(lambda n: f"{100000 + n}")
    dfe_number = factory.LazyAttributeSequence(lambda o, n: f"{o.la.code}{2000 + n:04d}")
    phase = "secondary"
    school_type = "academy"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@school.example")
    full_name = factory.Sequence(lambda n: f"Person {n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save()


def member(role: str, organisation: object, **user_fields: object) -> User:
    """A new person holding one role in one organisation."""
    user = UserFactory(**user_fields)
    Membership.objects.create(user=user, organisation=organisation, role=role)
    return user
