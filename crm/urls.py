"""Root URLconf: public and account URLs, then everything under /<tenant-slug>/."""

from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy
from django.views.i18n import set_language

from analytics import views as analytics_views
from channels.views.inbound import inbound
from crm.forms import LoginForm
from crm.views import accounts, pages
from crm.views import attachments as attachment_views
from crm.views import filters as filter_views
from crm.views import notifications as notification_views
from crm.views import settings as settings_views
from crm.views import tasks as task_views

account_patterns = (
    [
        path(
            "login/",
            auth_views.LoginView.as_view(
                template_name="accounts/login.html",
                authentication_form=LoginForm,
                redirect_authenticated_user=True,
            ),
            name="login",
        ),
        path("logout/", auth_views.LogoutView.as_view(), name="logout"),
        path("signup/", accounts.signup, name="signup"),
        path("signup/sent/", accounts.signup_sent, name="signup_sent"),
        path("signup/confirm/<str:token>/", accounts.signup_confirm, name="signup_confirm"),
        path("workspaces/", accounts.workspaces, name="workspaces"),
        path("invitation/<str:token>/", accounts.invitation_accept, name="invitation_accept"),
        path(
            "password-reset/",
            auth_views.PasswordResetView.as_view(
                template_name="accounts/password_reset.html",
                email_template_name="accounts/email/password_reset_body.txt",
                subject_template_name="accounts/email/password_reset_subject.txt",
                success_url=reverse_lazy("accounts:password_reset_done"),
            ),
            name="password_reset",
        ),
        path(
            "password-reset/sent/",
            auth_views.PasswordResetDoneView.as_view(
                template_name="accounts/password_reset_done.html"
            ),
            name="password_reset_done",
        ),
        path(
            "reset/<uidb64>/<token>/",
            auth_views.PasswordResetConfirmView.as_view(
                template_name="accounts/password_reset_confirm.html",
                success_url=reverse_lazy("accounts:password_reset_complete"),
            ),
            name="password_reset_confirm",
        ),
        path(
            "reset/done/",
            auth_views.PasswordResetCompleteView.as_view(
                template_name="accounts/password_reset_complete.html"
            ),
            name="password_reset_complete",
        ),
    ],
    "accounts",
)

tenant_patterns = (
    [
        path("", analytics_views.home, name="home"),
        path("me/availability/", pages.availability, name="availability"),
        path("tasks/", task_views.task_list, name="tasks"),
        path("tasks/new/", task_views.task_create, name="task_create"),
        path("tasks/records/", task_views.task_records, name="task_records"),
        path("tasks/calendar/", task_views.task_calendar, name="task_calendar"),
        path("tasks/<int:pk>/done/", task_views.task_done, name="task_done"),
        path("tasks/<int:pk>/reschedule/", task_views.task_reschedule, name="task_reschedule"),
        path("tasks/<int:pk>/assign/", task_views.task_assign, name="task_assign"),
        path("me/alerts/", pages.alerts, name="alerts"),
        path("settings/", settings_views.index, name="settings"),
        path("settings/general/", settings_views.general, name="settings_general"),
        path("settings/users/", settings_views.members, name="members"),
        path("settings/users/invite/", settings_views.member_invite, name="member_invite"),
        path("settings/users/<int:pk>/", settings_views.member_edit, name="member_edit"),
        path(
            "settings/users/<int:pk>/deactivate/",
            settings_views.member_deactivate,
            name="member_deactivate",
        ),
        path(
            "settings/users/<int:pk>/reactivate/",
            settings_views.member_reactivate,
            name="member_reactivate",
        ),
        path(
            "settings/invitations/<int:pk>/revoke/",
            settings_views.invitation_revoke,
            name="invitation_revoke",
        ),
        path("settings/teams/", settings_views.teams, name="teams"),
        path("settings/teams/<int:pk>/", settings_views.team_edit, name="team_edit"),
        path("settings/teams/<int:pk>/delete/", settings_views.team_delete, name="team_delete"),
        path("settings/roles/", settings_views.roles, name="roles"),
        path("settings/roles/<int:pk>/", settings_views.role_edit, name="role_edit"),
        path("settings/roles/<int:pk>/delete/", settings_views.role_delete, name="role_delete"),
        path("settings/audit/", settings_views.audit, name="audit"),
        path("settings/fields/", settings_views.custom_fields, name="custom_fields"),
        path(
            "settings/fields/<int:pk>/", settings_views.custom_field_edit, name="custom_field_edit"
        ),
        path(
            "settings/fields/<int:pk>/delete/",
            settings_views.custom_field_delete,
            name="custom_field_delete",
        ),
        path("filters/", filter_views.saved_filter_create, name="saved_filter_create"),
        path(
            "filters/<int:pk>/delete/",
            filter_views.saved_filter_delete,
            name="saved_filter_delete",
        ),
        path("attachments/<int:pk>/", attachment_views.attachment_download, name="attachment"),
        path("notifications/", notification_views.notification_list, name="notifications"),
        path(
            "notifications/<int:pk>/",
            notification_views.notification_open,
            name="notification_open",
        ),
        path(
            "notifications/read/",
            notification_views.notifications_read_all,
            name="notifications_read",
        ),
    ],
    "crm",
)

urlpatterns = [
    path("", accounts.home, name="home"),
    path("healthz", accounts.healthz, name="healthz"),
    path("in/<str:token>/", inbound, name="inbound"),
    path("in/<str:token>/<path:path>", inbound, name="inbound_path"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("accounts/", include(account_patterns)),
    path("<slug:tenant_slug>/settings/channels/", include("channels.urls")),
    path("<slug:tenant_slug>/conversations/", include("channels.conversation_urls")),
    path("<slug:tenant_slug>/leads/", include("leads.urls")),
    path("<slug:tenant_slug>/deals/", include("deals.urls")),
    path("<slug:tenant_slug>/contacts/", include("contacts.urls")),
    path("<slug:tenant_slug>/companies/", include("contacts.company_urls")),
    path("<slug:tenant_slug>/analytics/", include("analytics.urls")),
    path("<slug:tenant_slug>/search/", include("search.urls")),
    path("<slug:tenant_slug>/transfer/", include("transfer.urls")),
    path("<slug:tenant_slug>/", include(tenant_patterns)),
]

handler403 = "crm.views.errors.permission_denied"
handler404 = "crm.views.errors.page_not_found"
handler500 = "crm.views.errors.server_error"
