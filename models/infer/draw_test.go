package infer_test

import (
	"testing"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/models/infer"
)

// TestDrawKeepsLabelsInsideTheImage draws a detection at the right edge:
// its label must move left of the box rather than be cut off.
func TestDrawKeepsLabelsInsideTheImage(t *testing.T) {
	m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(90, 90, 90, 0), 200, 320, gocv.MatTypeCV8UC3)
	defer m.Close()
	box := infer.Box{X: 290, Y: 60, W: 20, H: 80}
	infer.Draw(&m, []infer.Detection{{Label: "scratch", ClassID: 0, Score: 0.27, Box: box}})

	col := infer.ClassColor(0)
	colored := func(x, y int) bool {
		v := m.GetVecbAt(y, x)
		return v[0] == col.B && v[1] == col.G && v[2] == col.R
	}
	if !colored(int(box.X)+5, int(box.Y)) {
		t.Fatal("box not drawn")
	}
	// The label sits above the box; well left of the box it must be drawn.
	found := false
	for y := int(box.Y) - 30; y < int(box.Y); y++ {
		if y >= 0 && colored(int(box.X)-30, y) {
			found = true
			break
		}
	}
	if !found {
		t.Fatal("label not shifted left of a box at the right edge: it would be cut off")
	}
}
