"""Import and export pages under /<workspace>/transfer/."""

app_name = "transfer"

urlpatterns: list = []
