-- Several ingest workers (issue 8, docs/design/cluster.md): two more causes of a
-- recording interruption in the run/gap ledger.
--   failover: the camera was taken over by another worker after its worker was lost;
--   handover: the camera moved to another worker (one joined, or a lease could not be
--             renewed in time and the worker stopped recording it).

ALTER TABLE runs DROP CONSTRAINT runs_end_cause_check;
ALTER TABLE runs ADD CONSTRAINT runs_end_cause_check CHECK (end_cause IN (
    'connect_refused', 'timeout', 'stall', 'eof', 'decode_error', 'timestamp_jump', 'crash',
    'shutdown', 'storage_error', 'failover', 'handover'));
ALTER TABLE gaps DROP CONSTRAINT gaps_cause_check;
ALTER TABLE gaps ADD CONSTRAINT gaps_cause_check CHECK (cause IN (
    'connect_refused', 'timeout', 'stall', 'eof', 'decode_error', 'timestamp_jump', 'crash',
    'shutdown', 'storage_error', 'failover', 'handover'));
