"""The public channel endpoints (`/in/…`) skip the browser-facing middleware.

A provider's webhook carries no session, user, CSRF token or tenant slug, and a delivery
must cost little (bench/README.md, "Ingestion"): placed right after SecurityMiddleware,
this serves `/in/…` itself — the language from the request, the view, and for the few HTML
answers (a plain form's thank-you page) the CSP and frame headers every page gets. Every
other path goes down the whole stack.
"""

from __future__ import annotations

from collections.abc import Callable

from csp.middleware import CSPMiddleware
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.urls import Resolver404, resolve
from django.utils import translation

from channels.views.inbound import inbound

PREFIX = "/in/"


class InboundEndpointMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.csp = CSPMiddleware(get_response)
        self.frames = XFrameOptionsMiddleware(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(PREFIX):
            return self.get_response(request)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        if match.func is not inbound:
            return self.get_response(request)
        request.resolver_match = match
        language = translation.get_language_from_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        self.csp.process_request(request)
        response = match.func(request, *match.args, **match.kwargs)
        if response.get("Content-Type", "").startswith("text/html"):
            response = self.csp.process_response(request, response)
            response = self.frames.process_response(request, response)
        return response
