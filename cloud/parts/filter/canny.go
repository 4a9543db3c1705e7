package filter

/*
#cgo !windows pkg-config: opencv4
#cgo CXXFLAGS: --std=c++11
#include "canny.h"
*/
import "C"

import (
	"errors"
	"unsafe"

	"gocv.io/x/gocv"
)

// canny runs OpenCV's Canny with the aperture and gradient norm gocv v0.32 does not expose.
func canny(src gocv.Mat, dst *gocv.Mat, low, high float64, aperture int, l2 bool) error {
	l2i := 0
	if l2 {
		l2i = 1
	}
	if C.ifc_canny(unsafe.Pointer(src.Ptr()), unsafe.Pointer(dst.Ptr()), C.double(low), C.double(high), C.int(aperture), C.int(l2i)) != 0 {
		return errors.New("canny: OpenCV rejected the arguments")
	}
	return nil
}
