-- Every (image, layer) reference of one snapshot in the order it was stored, as the rows
-- `lifecycle.from_records.layer_index` groups into each image's layers: the analyses' one copy of the layer
-- table, read without building an ImageLayer record per row.
-- Parameter $sid: the snapshot id.
SELECT account, region, repository, image_digest, layer_digest, size
FROM image_layers
WHERE snapshot_id = $sid
ORDER BY rowid
