"""Analytics: report queries and the dashboards built on them."""
