-- Per repository of either snapshot: distinct-layer bytes at $a and $b, and the bytes of the layers that went
-- (stored at $a, not at $b) and came (at $b, not at $a): what ECR stopped and started billing.
WITH d AS (
    SELECT snapshot_id, account, region, repository, layer_digest, max(size) AS size
    FROM image_layers WHERE snapshot_id = $a OR snapshot_id = $b
    GROUP BY snapshot_id, account, region, repository, layer_digest
), x AS (
    SELECT coalesce(f.account, t.account) AS account, coalesce(f.region, t.region) AS region,
           coalesce(f.repository, t.repository) AS repository, f.size AS from_size, t.size AS to_size
    FROM (SELECT * FROM d WHERE snapshot_id = $a) f
    FULL OUTER JOIN (SELECT * FROM d WHERE snapshot_id = $b) t
      ON f.account = t.account AND f.region = t.region AND f.repository = t.repository
     AND f.layer_digest = t.layer_digest
)
SELECT account, region, repository,
       coalesce(sum(from_size), 0) AS from_bytes,
       coalesce(sum(to_size), 0) AS to_bytes,
       coalesce(sum(from_size) FILTER (WHERE to_size IS NULL), 0) AS removed_bytes,
       coalesce(sum(to_size) FILTER (WHERE from_size IS NULL), 0) AS added_bytes,
       count(from_size) AS from_layers,
       count(to_size) AS to_layers
FROM x
GROUP BY account, region, repository
ORDER BY account, region, repository
