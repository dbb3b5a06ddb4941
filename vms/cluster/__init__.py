"""Several ingest workers sharing the cameras of an installation (CSD-03, CSD-11):
camera leases in NATS JetStream key-value buckets, placement by rendezvous hashing.
See docs/design/cluster.md."""


def servers(url: str) -> list[str]:
    """The NATS servers of ``[cluster] nats_url`` ("nats://a:4222,nats://b:4222"), as the
    client takes them (a list: it refuses one comma-separated string)."""
    return [s.strip() for s in url.split(",") if s.strip()]
