"""One construct per concern; infra/stack.py composes them and grants between them from infra/wiring.py."""
