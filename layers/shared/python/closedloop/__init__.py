"""closedloop: the domain package, shipped to every Lambda as the shared code layer.

Domain modules (profiles, tracking, thresholds, schedules, sending, ...) take their collaborators as arguments and
never import boto3 or pynamodb; closedloop.adapters holds the only code that talks to AWS, and closedloop.services
wires the two together once per container.
"""
