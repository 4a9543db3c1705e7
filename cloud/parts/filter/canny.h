#ifndef IFC_FILTER_CANNY_H
#define IFC_FILTER_CANNY_H
#ifdef __cplusplus
extern "C" {
#endif
// ifc_canny runs cv::Canny with aperture and L2 gradient (gocv v0.32 exposes neither).
// src and dst are cv::Mat pointers; returns 0 on success, -1 if OpenCV threw.
int ifc_canny(void *src, void *dst, double low, double high, int aperture, int l2gradient);
#ifdef __cplusplus
}
#endif
#endif
