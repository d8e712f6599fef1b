"""URLs of the cards' conversation panel, under /<tenant-slug>/conversations/."""

from django.urls import path

from channels.views import conversation

app_name = "conversations"

record = "<slug:kind>/<int:pk>/"
urlpatterns = [
    path("unread/", conversation.unread, name="unread"),
    path(record, conversation.panel, name="panel"),
    path(f"{record}reply/", conversation.reply, name="reply"),
    path(f"{record}template/", conversation.template_text, name="template"),
    path(f"{record}answered/", conversation.answered, name="answered"),
    path(f"{record}messages/<int:message_pk>/again/", conversation.again, name="again"),
]
