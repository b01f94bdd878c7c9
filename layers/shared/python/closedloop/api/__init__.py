"""The admin API: one Powertools resolver, a Router per resource, domain errors mapped to HTTP in one place."""
