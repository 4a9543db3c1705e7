#include <opencv2/imgproc.hpp>
#include "canny.h"

int ifc_canny(void *src, void *dst, double low, double high, int aperture, int l2gradient) {
    try {
        cv::Canny(*static_cast<cv::Mat *>(src), *static_cast<cv::Mat *>(dst), low, high, aperture, l2gradient != 0);
    } catch (const cv::Exception &) {
        return -1;
    }
    return 0;
}
