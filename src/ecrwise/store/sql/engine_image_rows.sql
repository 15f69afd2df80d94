-- Every image of one snapshot without its layers (engine_layer_rows.sql has those): one row per image. The
-- lifecycle engine takes those with a push time; the storage checks all of them (with their size and kind). Flat rows rather than engine_images.sql's layer lists: DuckDB can spill this
-- sort to disk under --memory-limit, and it cannot spill a hash aggregate of lists.
-- `lifecycle.from_records.repository_groups` merges the two, repository by repository.
-- Parameter $sid: the snapshot id. Rows come repository by repository, each repository's images in the order
-- they were stored.
SELECT account, region, repository, digest, tags, pushed_at, last_pulled_at,
       coalesce(storage_class, 'standard') AS storage_class, archived_at, children, subject_digest,
       coalesce(manifest_missing, false) AND coalesce(is_index, false) AS children_unknown,
       size_bytes, coalesce(is_index, false) AS is_index
FROM images
WHERE snapshot_id = $sid
ORDER BY account, region, repository, rowid
