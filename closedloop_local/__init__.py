"""closedloop_local: the whole system on a laptop, no AWS account needed.

moto plays AWS (resources created from infra/wiring.py), an HTTP gateway turns requests into API Gateway v2 events,
a pump delivers SQS and EventBridge work to the worker handlers, a scheduler fires the schedules against the
runtime's clock, and an outbox lists every message SES accepted. `closedloop local` starts it, `closedloop demo`
tells the closed-loop story on it; `runtime.Runtime` is the same thing in-process for the demo and the e2e tests.
"""
