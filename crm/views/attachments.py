"""Downloading a record's attached file (only for those who may see the record)."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

from crm.attachments import attachment_get_for_user, safe_content_type


@require_GET
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    """The file as a download: a safe type, never rendered by the browser."""
    attachment = attachment_get_for_user(actor=request.membership, attachment_id=pk)
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.filename,
        content_type=safe_content_type(attachment.content_type),
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
