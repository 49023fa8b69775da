-- A write of a group commit begins (group.go).
SAVEPOINT herald_write
