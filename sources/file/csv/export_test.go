package csv

// MaxRecordBytesForTest sets the record bound and returns the old one.
func MaxRecordBytesForTest(n int) int {
	old := maxRecordBytes
	maxRecordBytes = n
	return old
}
