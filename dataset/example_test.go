package dataset_test

import (
	"fmt"

	"github.com/pointpeft/pointpeft/dataset"
)

// Open a data source from the string a command takes ("shapes:TRAIN:TEST" is the
// built-in procedural set; a ModelNet40 folder or "scanobjectnn:PB_T50_RS:ROOT" work
// the same way).
func ExampleOpen() {
	ds, err := dataset.Open("shapes:28:14", "test", dataset.OpenOptions{NumPoints: 256})
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := ds.Get(0)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ds.Len(), "shapes of", len(s.Points)/3, "points; first:", ds.Classes()[s.Label])
	ref := dataset.Reference("scanobjectnn:PB_T50_RS:/data/scanobjectnn")
	fmt.Println("ScanObjectNN reference:", ref.Points, "points in", ref.Groups, "groups of", ref.GroupSize)
	// Output:
	// 14 shapes of 256 points; first: sphere
	// ScanObjectNN reference: 2048 points in 128 groups of 32
}
