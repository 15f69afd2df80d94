-- The lifecycle engine's images of one snapshot without their layers (engine_layer_rows.sql has those): one row
-- per image that has a push time. Flat rows rather than engine_images.sql's layer lists: DuckDB can spill this
-- sort to disk under --memory-limit, and it cannot spill a hash aggregate of lists.
-- `cli.snapshot_data.engine_image_groups` merges the two, repository by repository.
-- Parameter $sid: the snapshot id. Rows come repository by repository, each repository's images in the order
-- they were stored.
SELECT account, region, repository, digest, tags, pushed_at, last_pulled_at,
       coalesce(storage_class, 'standard') AS storage_class, archived_at, children, subject_digest,
       coalesce(manifest_missing, false) AND coalesce(is_index, false) AS children_unknown
FROM images
WHERE snapshot_id = $sid AND pushed_at IS NOT NULL
ORDER BY account, region, repository, rowid
