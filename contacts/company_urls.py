"""URLs of companies, under /<tenant-slug>/companies/ (the same views as contacts)."""

from contacts.urls import record_urls
from contacts.views.kinds import COMPANIES

app_name = "companies"
urlpatterns = record_urls(COMPANIES)
