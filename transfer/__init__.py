"""Import and export of leads, contacts, companies and deals (DESIGN §10)."""
