"""Intake: "someone asked us" — the normalized inquiry, who the person is (matching),
register or attach, repeat leads, the blocklist check; every way in (channels, the quick
lead and the lead form, simple mode's quick deal) goes through it."""
