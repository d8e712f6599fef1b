"""Settings of the benchmark server: the application's settings plus the floor page.

Only for `bench/` runs: the floor page shows a tenant's leads to anonymous visitors.
"""

from crm.settings import *  # noqa: F403
from crm.settings import BASE_DIR, TEMPLATES

ROOT_URLCONF = "bench.urls"
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], BASE_DIR / "bench" / "templates"]
