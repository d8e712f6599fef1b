"""Messy real-world inbound data over HTTP: phone fields holding several numbers, an
extension or words; invisible and direction characters; what can and cannot be stored.

Payloads are shaped as the providers send them (Tilda's urlencoded webhook, JSON posts, the
API's JSON), posted to /in/<token>/ and processed by the worker as in production."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from channels.models import Channel, InboundEvent
from channels.services import channel_create
from crm.models import TimelineEvent
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.channels.conftest import events_of, leads_of
from tests.channels.test_webform import FORM, config

Status, Outcome = InboundEvent.Status, InboundEvent.Outcome


@pytest.fixture
def web_form(tenant, admin) -> Channel:
    with tenant_context(tenant):
        return channel_create(actor=admin, kind="web_form", name="Сайт", config=config())


def tilda(deliver, channel: Channel, **fields: str):
    """A Tilda webhook post (urlencoded, Tilda's field names)."""
    body = {"Name": "Анна", "tranid": f"6372751:{abs(hash(str(fields))) % 10**9}", **fields}
    return deliver(channel, body=urlencode(body), content_type=FORM)


def _inquiry_events(lead: Lead) -> list[TimelineEvent]:
    with tenant_context(lead.tenant):
        kinds = ("lead.inquiry", "lead.repeat")
        return list(TimelineEvent.objects.filter(kind__in=kinds, target_id=lead.pk))


# --- Phones ---------------------------------------------------------------------------------


def test_two_numbers_in_one_phone_field_make_the_lead_with_both(
    tenant, admin, client_for, web_form, deliver
):
    response = tilda(deliver, web_form, Phone="8 (999) 123-45-67, +7 916 765-43-21")
    assert response.status_code == 200
    (lead,) = leads_of(tenant)
    assert (lead.phone, lead.phone_e164) == ("8 (999) 123-45-67", "+79991234567")
    assert lead.other_phones == ["+7 916 765-43-21"]
    page = client_for(admin).get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert 'href="tel:+79167654321">+7 916 765-43-21</a>' in page
    # The person is found by the first number, in any format.
    tilda(deliver, web_form, Phone="+7 999 1234567", Comments="Ещё вопрос")
    assert len(leads_of(tenant)) == 1
    assert events_of(web_form)[1].outcome == Outcome.ATTACHED


@pytest.mark.parametrize(
    ("field", "phone", "e164", "tel"),
    [
        (
            "8 999 123 45 67 доб. 12",
            "+7 999 123-45-67 доб. 12",
            "+79991234567",
            "tel:+79991234567;ext=12",
        ),
        ("+7 (495) 123-45-67 ext. 7", "+7 495 123-45-67 ext. 7", "+74951234567", None),
        ("8 (495) 123-45-67 доб.123", "+7 495 123-45-67 доб. 123", "+74951234567", None),
        ("+7 495 123 45 67 #305", "+7 495 123-45-67 ext. 305", "+74951234567", None),
    ],
)
def test_an_extension_is_kept_as_an_extension_never_glued_onto_the_number(
    tenant, admin, client_for, web_form, deliver, field, phone, e164, tel
):
    assert tilda(deliver, web_form, Phone=field).status_code == 200
    (lead,) = leads_of(tenant)
    assert (lead.phone, lead.phone_e164, lead.other_phones) == (phone, e164, [])
    assert lead.message == ""
    if tel:
        page = client_for(admin).get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
        assert f'href="{tel}"' in page


def test_words_around_the_number_are_kept_in_the_message(tenant, web_form, deliver):
    field = "звоните после 18:00 на 8 999 123-45-67 (Анна) или рабочий 8 495 123 45 67 доб 3"
    assert tilda(deliver, web_form, Phone=field, Comments="Нужен диван").status_code == 200
    (lead,) = leads_of(tenant)
    assert (lead.phone, lead.phone_e164) == ("8 999 123-45-67", "+79991234567")
    assert lead.other_phones == ["+7 495 123-45-67 доб. 3"]
    # The field as given, labelled "Phone" in the workspace's language.
    text, _sep, note = lead.message.partition("\n\n")
    assert (text, note.partition(": ")[2]) == ("Нужен диван", field)


def test_a_number_the_metadata_lacks_listed_beside_a_valid_one_is_kept(tenant, web_form, deliver):
    # +7 930 065-… is a possible Russian mobile that phonenumbers does not list as valid.
    tilda(deliver, web_form, Phone="+7 930 065-21-96, 8 (812) 328-43-84, доб. 430")
    (lead,) = leads_of(tenant)
    assert (lead.phone, lead.phone_e164) == ("+7 930 065-21-96", "+79300652196")
    assert lead.other_phones == ["+7 812 328-43-84 доб. 430"]
    # Words, dates and times beside a number are still no numbers.
    tilda(deliver, web_form, Phone="8 999 123-45-67, заказ 1234567890, 25.03.2026 или 18:00")
    assert [(x.phone_e164, x.other_phones) for x in leads_of(tenant)][-1] == ("+79991234567", [])
    # The person is found again by the first number written another way.
    tilda(deliver, web_form, Phone="89300652196", Comments="Ещё вопрос")
    assert len(leads_of(tenant)) == 2
    assert events_of(web_form)[2].outcome == Outcome.ATTACHED


def test_a_json_post_with_a_long_phone_field_loses_nothing(tenant, web_form, deliver):
    field = "+7 999 123-45-67 (мобильный, WhatsApp, звонить только в будни с 10 до 19 часов)"
    assert deliver(web_form, {"name": "Олег", "phone": field}).status_code == 200
    (lead,) = leads_of(tenant)
    assert lead.phone_e164 == "+79991234567"
    assert field in lead.message


def test_several_phone_fields_become_the_phone_and_other_phones(tenant, web_form, deliver):
    body = urlencode([("Phone", "+7 999 123-45-67"), ("phone", "8 916 765 43 21")])
    assert deliver(web_form, body=body, content_type=FORM).status_code == 200
    (lead,) = leads_of(tenant)
    assert (lead.phone, lead.other_phones) == ("+7 999 123-45-67", ["8 916 765 43 21"])


def test_an_unreadable_phone_beside_an_email_still_makes_the_lead(tenant, web_form, deliver):
    assert tilda(deliver, web_form, Phone="не звонить", Email="anna@example.com").status_code == 200
    (lead,) = leads_of(tenant)
    assert (lead.phone, lead.email) == ("", "anna@example.com")
    assert "не звонить" in lead.message


@pytest.mark.parametrize("phone", ["12", "не скажу", "8999123456712345678901234"])
def test_an_unreadable_phone_alone_is_refused_with_a_clear_reason(tenant, web_form, deliver, phone):
    response = tilda(deliver, web_form, Phone=phone)
    assert response.status_code == 400
    body = response.json()
    assert body["fields"]["phone"] == body["error"]
    # In the workspace's language (Russian), as the web form answers.
    assert f"В «{phone}» не удаётся прочитать номер телефона" in body["error"]
    assert "+7 912 345-67-89" in body["error"]  # how to write one, in the tenant's region
    (event,) = events_of(web_form)
    assert (event.status, event.detail) == (Status.REJECTED, body["error"])
    assert leads_of(tenant) == []


def test_the_api_reads_phone_fields_the_same_way(tenant, api_channel, deliver):
    response = deliver(api_channel, {"phone": "+7 999 123-45-67 доб. 12; 8 916 765-43-21"})
    assert response.status_code == 202
    (lead,) = leads_of(tenant)
    assert (lead.phone, lead.phone_e164) == ("+7 999 123-45-67 доб. 12", "+79991234567")
    assert lead.other_phones == ["8 916 765-43-21"]
    refused = deliver(api_channel, {"name": "Без номера", "phone": "нет телефона"})
    assert refused.status_code == 400
    assert "No phone number can be read in “нет телефона”" in refused.json()["error"]
    kept = deliver(api_channel, {"phone": "нет телефона", "email": "oleg@example.com"})
    assert kept.status_code == 202
    assert leads_of(tenant)[-1].email == "oleg@example.com"
    assert [e.status for e in events_of(api_channel)] == [Status.DONE, Status.REJECTED, Status.DONE]


# --- Invisible and direction characters -----------------------------------------------------

BOM, ZWSP, ZWNJ, ZWJ, RLM = "\ufeff", "\u200b", "\u200c", "\u200d", "\u200f"
RLO, PDF, RLI, PDI, WJ, SHY = "\u202e", "\u202c", "\u2067", "\u2069", "\u2060", "\u00ad"


def test_invisible_characters_are_removed_from_a_tilda_lead_so_matching_works(
    tenant, web_form, deliver
):
    message = f"Цена {RLO}выше{PDF}, чем на сайте? {ZWSP}"
    response = tilda(
        deliver,
        web_form,
        Name=f"{RLI}Ан{ZWSP}на{PDI} Смир{SHY}нова{BOM}",
        Phone=f"{BOM}+7 999{ZWJ}123-45-67{RLM}",
        Email=f"anna{ZWNJ}@example.com{ZWSP}",
        Comments=message,
        formname=f"Заказ{WJ} звонка",
    )
    assert response.status_code == 200
    (lead,) = leads_of(tenant)
    assert lead.name == "Анна Смирнова"
    assert (lead.phone, lead.phone_e164) == ("+7 999123-45-67", "+79991234567")
    assert (lead.email, lead.email_key) == ("anna@example.com", "anna@example.com")
    assert lead.message.startswith(message)  # free text keeps its characters
    # A clean inquiry finds the person: by e-mail alone, and by phone alone.
    deliver(web_form, {"email": "Anna@Example.com", "message": "по почте"})
    deliver(web_form, {"phone": "89991234567", "message": "по телефону"})
    assert len(leads_of(tenant)) == 1
    assert [e.outcome for e in events_of(web_form)][1:] == [Outcome.ATTACHED, Outcome.ATTACHED]


def test_invisible_characters_leave_api_values_and_utm_tags(tenant, api_channel, deliver):
    payload = {
        "name": f"{BOM}Олег",
        "phone": f"+7{ZWSP} 912 000-11-22",
        "title": f"Заявка{RLO} с сайта",
        "company": f"ООО {ZWJ}Ромашка",
        "utm": {"utm_source": f"yandex{ZWSP}", "utm_campaign": f"{BOM}winter"},
        "message": f"Текст {RLO}как есть",
        "custom": {"note": "a\u0000b"},
    }
    assert deliver(api_channel, payload).status_code == 202
    (lead,) = leads_of(tenant)
    assert (lead.name, lead.title, lead.company_name) == ("Олег", "Заявка с сайта", "ООО Ромашка")
    assert lead.phone_e164 == "+79120001122"
    assert (lead.utm_source, lead.utm_campaign) == ("yandex", "winter")
    assert lead.message == f"Текст {RLO}как есть"
    with tenant_context(tenant):
        assert Lead.objects.filter(name="Олег").exists()  # an exact search finds it


@pytest.mark.parametrize(
    "char",
    [
        "\u00ad",  # soft hyphen
        "\u034f",  # combining grapheme joiner
        "\u061c",  # Arabic letter mark
        "\u115f",  # Hangul choseong filler ("invisible" Telegram names)
        "\u180e",  # Mongolian vowel separator
        *"\u200b\u200c\u200d\u200e\u200f",  # ZWSP, ZWNJ, ZWJ, LRM, RLM
        *"\u202a\u202b\u202c\u202d\u202e",  # LRE, RLE, PDF, LRO, RLO
        *"\u2060\u2062\u2063\u2064",  # word joiner, invisible operators
        *"\u2066\u2067\u2068\u2069",  # LRI, RLI, FSI, PDI
        "\u3164",  # Hangul filler
        "\ufe0f",  # a variation selector after a letter
        "\ufeff",  # byte-order mark / zero-width no-break space
        "\ufff9",  # interlinear annotation anchor
        "\U000e0041",  # a tag character outside a flag
    ],
)
def test_each_invisible_or_direction_character_leaves_a_name_and_an_email(
    tenant, api_channel, deliver, char
):
    payload = {"name": f"{char}Ан{char}на{char}", "email": f"anna{char}@example.com{char}"}
    assert deliver(api_channel, payload).status_code == 202
    (lead,) = leads_of(tenant)
    assert (lead.name, lead.email, lead.email_key) == (
        "Анна",
        "anna@example.com",
        "anna@example.com",
    )


def test_spaces_and_controls_in_a_name_become_one_space(tenant, api_channel, deliver):
    payload = {"name": " Анна\u00a0\t\u2028 Смирнова\x1b ", "phone": "+79120001128"}
    assert deliver(api_channel, payload).status_code == 202
    assert leads_of(tenant)[0].name == "Анна Смирнова"


def test_an_emoji_keeps_its_joiner_while_a_name_does_not(tenant, api_channel, deliver):
    name = f"Ан{ZWJ}на 👩{ZWJ}💻 ❤\ufe0f"
    assert deliver(api_channel, {"name": name, "phone": "+79120001123"}).status_code == 202
    (lead,) = leads_of(tenant)
    assert lead.name == f"Анна 👩{ZWJ}💻 ❤\ufe0f"


def test_control_characters_and_lone_surrogates_are_stored_cleaned_not_refused(
    tenant, api_channel, web_form, deliver
):
    # NUL cannot be stored by PostgreSQL, a lone surrogate by any database: neither may
    # turn a delivery into a 5xx that the provider retries for ever.
    body = '{"name": "\\ud800Анна", "phone": "+79120001124", "message": "a\\u0000b\\u001bc"}'
    assert deliver(api_channel, body=body).status_code == 202
    (lead,) = leads_of(tenant)
    assert (lead.name, lead.message) == ("\ufffdАнна", "abc")
    form = urlencode({"Phone": "+79120001125", "Comments": "x\x00y"})
    assert deliver(web_form, body=form, content_type=FORM).status_code == 200
    assert leads_of(tenant)[-1].message == "xy"
    refused = deliver(api_channel, {"phone": "+79120001126", "source": "pigeon\u0000"})
    assert refused.status_code == 400
    assert "\x00" not in events_of(api_channel)[-1].detail


def test_a_message_with_a_right_to_left_override_cannot_reorder_the_card(
    tenant, admin, client_for, api_channel, deliver
):
    message = f"Привет {RLO}мир\nвторая{PDI}{PDF} строка {RLI}без конца"
    deliver(api_channel, {"name": "Анна", "phone": "+79120001127", "message": message})
    (lead,) = leads_of(tenant)
    assert lead.message == message  # kept as sent
    page = client_for(admin).get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    # Shown in an isolated element, each line's override closed before the line ends and
    # the stray closers (which would end the page's own isolation) dropped.
    shown = f"Привет {RLO}мир{PDF}<br>вторая строка {RLI}без конца{PDI}"
    assert (
        f'<dd class="col-12 lead-message" dir="auto" data-testid="lead-message">{shown}</dd>'
        in (page)
    )
    assert f'<div class="lead-message" dir="auto">{shown}</div>' in page  # the timeline
