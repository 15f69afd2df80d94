"""Plain records that collectors produce and analyses read.

Each record class is a frozen dataclass with a ``__table__`` name; the store derives one DuckDB table per
record class from its fields, so adding a domain (ECS, network) means adding records, not store code.
Nothing here imports boto3 or computes money.
"""
