-- The lifecycle engine's images of one snapshot (issue 11: facts are queries): one row per image that has a
-- push time, with its layers as two parallel lists in the order they were stored, so no per-layer record is
-- built in Python. `lifecycle.from_records.lifecycle_images_from_rows` turns the rows into the engine's
-- images exactly as `lifecycle_images` does from records (a test holds the two equal).
-- Parameter $sid: the snapshot id. Rows come repository by repository (so a caller can judge one repository and
-- drop its images before the next), each repository's images in the order they were stored.
WITH l AS (
    SELECT account, region, repository, image_digest,
           list(layer_digest ORDER BY rowid) AS layer_digests,
           list(size ORDER BY rowid) AS layer_sizes
    FROM image_layers WHERE snapshot_id = $sid
    GROUP BY account, region, repository, image_digest
)
SELECT i.account, i.region, i.repository, i.digest, i.tags, i.pushed_at, i.last_pulled_at,
       coalesce(i.storage_class, 'standard') AS storage_class, i.archived_at, i.children, i.subject_digest,
       coalesce(i.manifest_missing, false) AND coalesce(i.is_index, false) AS children_unknown,
       l.layer_digests, l.layer_sizes
FROM images i
LEFT JOIN l ON l.account = i.account AND l.region = i.region AND l.repository = i.repository
           AND l.image_digest = i.digest
WHERE i.snapshot_id = $sid AND i.pushed_at IS NOT NULL
ORDER BY i.account, i.region, i.repository, i.rowid
