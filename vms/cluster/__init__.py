"""Several ingest workers sharing the cameras of an installation (CSD-03, CSD-11):
camera leases in NATS JetStream key-value buckets, placement by rendezvous hashing.
See docs/design/cluster.md."""
