-- Per repository of one snapshot: what `repos`, `history` and the report print (issue 11: facts are queries).
-- Billed bytes count each distinct layer digest of a repository once (ECR stores a shared layer once);
-- naive_bytes is the per-image sum. Rows come in the order the repositories were stored.
-- Parameter $sid: the snapshot id. Table names are the record classes' __table__.
WITH r AS (
    SELECT rowid AS ord, account, region, name, tags, lifecycle_policy IS NOT NULL AS lifecycle_policy
    FROM repositories WHERE snapshot_id = $sid
), i AS (
    SELECT account, region, repository,
           count(*) AS images,
           count(*) FILTER (WHERE coalesce(len(tags), 0) > 0) AS tagged_images,
           sum(size_bytes) AS naive_bytes,
           max(pushed_at) AS last_pushed_at,
           max(last_pulled_at) AS last_pulled_at
    FROM images WHERE snapshot_id = $sid
    GROUP BY account, region, repository
), d AS (
    SELECT account, region, repository, layer_digest, max(size) AS size
    FROM image_layers WHERE snapshot_id = $sid
    GROUP BY account, region, repository, layer_digest
), l AS (
    SELECT account, region, repository, sum(size) AS stored_bytes
    FROM d GROUP BY account, region, repository
), p AS (
    SELECT account, region, repository, sum(pulls) AS pulls_30d, max(day) FILTER (WHERE pulls > 0) AS last_pull_day
    FROM pull_metrics WHERE snapshot_id = $sid
    GROUP BY account, region, repository
)
SELECT r.account, r.region, r.name AS repository,
       coalesce(i.images, 0) AS images,
       coalesce(i.tagged_images, 0) AS tagged_images,
       coalesce(l.stored_bytes, 0) AS stored_bytes,
       coalesce(i.naive_bytes, 0) AS naive_bytes,
       i.last_pushed_at, i.last_pulled_at, p.last_pull_day,
       coalesce(p.pulls_30d, 0) AS pulls_30d,
       r.lifecycle_policy, r.tags
FROM r
LEFT JOIN i ON i.account = r.account AND i.region = r.region AND i.repository = r.name
LEFT JOIN l ON l.account = r.account AND l.region = r.region AND l.repository = r.name
LEFT JOIN p ON p.account = r.account AND p.region = r.region AND p.repository = r.name
ORDER BY r.ord
