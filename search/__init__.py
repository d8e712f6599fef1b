"""The top-bar search over leads, deals, contacts and companies (issue 14, point 4)."""
