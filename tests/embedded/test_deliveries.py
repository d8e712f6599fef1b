"""No delivery is lost on the embedded default: concurrent web-form posts to the server of
`make run` (SQLite file, in-process tasks) are each stored once, answered honestly and
processed, and a provider's retry of a stored delivery creates nothing new."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter

from tests.embedded.stack import EmbeddedStack
from tests.processes import wait_for

THREADS = 8
DELIVERIES = 200


def post(url: str, payload: dict) -> int:
    """POST one JSON delivery as a site's backend would (no Origin); the HTTP status."""
    request = urllib.request.Request(  # noqa: S310 - a loopback http URL of our own server
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def payload(number: int) -> dict:
    return {
        "name": f"Person {number}",
        "phone": f"+7 999 {number:03d}-55-{number % 100:02d}",
        "message": f"delivery {number}",
    }


def test_concurrent_deliveries_are_stored_once_and_processed(embedded: EmbeddedStack):
    seeded = embedded.seed()
    leads_before = embedded.value("SELECT COUNT(*) FROM leads_lead")
    embedded.start()
    url = f"{embedded.base_url}/in/{seeded['token']}/"
    answers: dict[int, int] = {}

    def sender(first: int) -> None:
        for number in range(first, DELIVERIES, THREADS):
            answers[number] = post(url, payload(number))

    threads = [threading.Thread(target=sender, args=(first,)) for first in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "senders did not finish"

    statuses = Counter(answers.values())
    assert statuses == {200: DELIVERIES}, f"answers {statuses}\n{embedded.log()}"
    # Every answered delivery is stored exactly once (its message is its number).
    stored = Counter(
        json.loads(message)["message"]
        for (message,) in embedded.rows("SELECT message FROM channels_inboundevent")
    )
    assert stored == Counter(f"delivery {number}" for number in range(DELIVERIES))

    def all_processed() -> bool:
        done = "SELECT COUNT(*) FROM channels_inboundevent WHERE status = 'done' AND lead_id > 0"
        return embedded.value(done) == DELIVERIES

    wait_for(all_processed, "every delivery to be processed", seconds=120)
    assert embedded.rows("SELECT DISTINCT outcome FROM channels_inboundevent") == [("created",)]
    # One lead per delivery, each from its own delivery: nothing lost, nothing twice.
    assert embedded.value("SELECT COUNT(*) FROM leads_lead") == leads_before + DELIVERIES
    assert embedded.value("SELECT COUNT(DISTINCT lead_id) FROM channels_inboundevent") == DELIVERIES

    # The provider delivers one again (its retry): answered 200, nothing new.
    assert post(url, payload(7)) == 200
    assert embedded.value("SELECT COUNT(*) FROM channels_inboundevent") == DELIVERIES
    assert embedded.value("SELECT COUNT(*) FROM leads_lead") == leads_before + DELIVERIES
