"""URLs of channel settings, under /<tenant-slug>/settings/channels/."""

from django.urls import path

from channels.views import reply_templates, settings

app_name = "channels"

urlpatterns = [
    path("", settings.channel_list, name="list"),
    path("templates/", reply_templates.template_list, name="templates"),
    path("templates/<int:pk>/", reply_templates.template_edit, name="template_edit"),
    path("templates/<int:pk>/delete/", reply_templates.template_delete, name="template_delete"),
    path("new/<slug:kind>/", settings.channel_create, name="create"),
    path("<int:pk>/", settings.channel_detail, name="detail"),
    path("<int:pk>/edit/", settings.channel_edit, name="edit"),
    path("<int:pk>/rotate/", settings.channel_rotate, name="rotate"),
    path("<int:pk>/delete/", settings.channel_delete, name="delete"),
    path("<int:pk>/events/<int:event_pk>/", settings.event_detail, name="event"),
    path("<int:pk>/events/<int:event_pk>/replay/", settings.event_replay, name="replay"),
]
