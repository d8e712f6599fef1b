"""Leads: statuses on a state machine, inbox, kanban, conversion and distribution."""
