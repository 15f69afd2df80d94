-- Every (image, layer) reference of one snapshot, repository by repository in the order engine_image_rows.sql
-- gives the images, each repository's references in the order they were stored (an image's layers in manifest
-- order). Parameter $sid: the snapshot id.
SELECT account, region, repository, image_digest, layer_digest, size
FROM image_layers
WHERE snapshot_id = $sid
ORDER BY account, region, repository, rowid
