package mirror

// Exported for the tests of package mirror_test.
var (
	ForEachBatch = forEachBatch
	ForEachDelta = forEachDelta
)
