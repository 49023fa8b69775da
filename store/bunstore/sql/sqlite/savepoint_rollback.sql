-- A write of a group commit failed: its changes are undone.
ROLLBACK TO herald_write
