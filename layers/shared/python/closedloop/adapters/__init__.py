"""The only modules that talk to AWS (boto3, pynamodb) or to Jinja2. Each implements a protocol of closedloop.ports."""
