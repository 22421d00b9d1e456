"""sharebackup: backups for file shares behind the Manila share-backups API."""
