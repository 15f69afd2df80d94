-- Per repository of one snapshot: what `repos`, `history` and the report print (issue 11: facts are queries).
-- Billed bytes count each distinct layer digest of a repository once (ECR stores a shared layer once);
-- naive_bytes is the per-image sum. Rows come in the order the repositories were stored (rowid: DuckDB's row
-- number in the store; `ecrwise export` writes it as a `rowid` column, so the lake has the same order).
-- Parameter $sid: the snapshot id. Table names are the record classes' __table__.
-- Portable SQL (transpiled by sqlglot for Athena/Trino and Spark, store/lake.py): array_length, not len (which
-- would become a string length), and a NULL list tested apart (Spark's size(NULL) can be -1).
WITH r AS (
    SELECT rowid AS ord, account, region, name, tags, lifecycle_policy IS NOT NULL AS lifecycle_policy
    FROM repositories WHERE snapshot_id = $sid
), i AS (
    SELECT account, region, repository,
           count(*) AS images,
           count(*) FILTER (WHERE tags IS NOT NULL AND array_length(tags) > 0) AS tagged_images,
           count(*) FILTER (WHERE (tags IS NULL OR array_length(tags) = 0) AND subject_digest IS NULL) AS untagged_images,
           count(*) FILTER (WHERE subject_digest IS NOT NULL) AS referrers,
           count(*) FILTER (WHERE coalesce(manifest_missing, false)) AS unknown_images,
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
), c AS (
    -- Distinct-layer bytes per storage class: a layer counts once in each class some image of it is in.
    SELECT account, region, repository,
           sum(size) FILTER (WHERE storage_class = 'standard') AS standard_bytes,
           sum(size) FILTER (WHERE storage_class = 'archive') AS archive_bytes
    FROM (SELECT il.account, il.region, il.repository, im.storage_class, il.layer_digest, max(il.size) AS size
          FROM image_layers il
          JOIN images im ON im.snapshot_id = il.snapshot_id AND im.account = il.account
               AND im.region = il.region AND im.repository = il.repository AND im.digest = il.image_digest
          WHERE il.snapshot_id = $sid
          GROUP BY il.account, il.region, il.repository, im.storage_class, il.layer_digest) AS cl
    GROUP BY account, region, repository
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
       r.lifecycle_policy, r.tags,
       coalesce(i.untagged_images, 0) AS untagged_images,
       coalesce(i.referrers, 0) AS referrers,
       coalesce(c.standard_bytes, 0) AS standard_bytes,
       coalesce(c.archive_bytes, 0) AS archive_bytes,
       coalesce(i.unknown_images, 0) AS unknown_images
FROM r
LEFT JOIN i ON i.account = r.account AND i.region = r.region AND i.repository = r.name
LEFT JOIN l ON l.account = r.account AND l.region = r.region AND l.repository = r.name
LEFT JOIN c ON c.account = r.account AND c.region = r.region AND c.repository = r.name
LEFT JOIN p ON p.account = r.account AND p.region = r.region AND p.repository = r.name
ORDER BY r.ord
