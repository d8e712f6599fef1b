"""Load benchmark of the lead lists on PostgreSQL: data generator, floor page, measurements.

Not part of the application: nothing here is installed or imported by `crm.settings`.
See bench/README.md.
"""
