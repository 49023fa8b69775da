-- A write of a group commit ends.
RELEASE herald_write
