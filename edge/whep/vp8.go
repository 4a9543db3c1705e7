package whep

/*
#cgo pkg-config: vpx
#include <stdlib.h>
#include <string.h>
#include <vpx/vpx_encoder.h>
#include <vpx/vp8cx.h>

typedef struct {
	vpx_codec_ctx_t ctx;
	vpx_image_t img;
} ifc_vp8;

// ifc_vp8_open configures libvpx for live video: one pass, constant bit rate, no look-ahead,
// no dropped frames, key frames capped at max_intra_pct of an average frame so one key frame
// does not stall the stream.
static int ifc_vp8_open(ifc_vp8 *e, int w, int h, int kbps, int kf_max, int threads, int cpu_used, int max_intra_pct) {
	vpx_codec_enc_cfg_t cfg;
	if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK) return -1;
	cfg.g_w = w;
	cfg.g_h = h;
	cfg.g_timebase.num = 1;
	cfg.g_timebase.den = 90000; // the RTP video clock
	cfg.g_threads = threads;
	cfg.g_lag_in_frames = 0;
	cfg.g_pass = VPX_RC_ONE_PASS;
	cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
	cfg.rc_end_usage = VPX_CBR;
	cfg.rc_target_bitrate = kbps;
	cfg.rc_min_quantizer = 2;
	cfg.rc_max_quantizer = 56;
	cfg.rc_undershoot_pct = 100;
	cfg.rc_overshoot_pct = 15;
	cfg.rc_buf_sz = 1000;
	cfg.rc_buf_initial_sz = 500;
	cfg.rc_buf_optimal_sz = 600;
	cfg.rc_dropframe_thresh = 0;
	cfg.rc_resize_allowed = 0;
	cfg.kf_mode = VPX_KF_AUTO;
	cfg.kf_min_dist = 0;
	cfg.kf_max_dist = kf_max;
	if (vpx_codec_enc_init(&e->ctx, vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK) return -2;
	if (vpx_codec_control(&e->ctx, VP8E_SET_CPUUSED, cpu_used) != VPX_CODEC_OK ||
	    vpx_codec_control(&e->ctx, VP8E_SET_NOISE_SENSITIVITY, 0) != VPX_CODEC_OK ||
	    vpx_codec_control(&e->ctx, VP8E_SET_STATIC_THRESHOLD, 1) != VPX_CODEC_OK ||
	    vpx_codec_control(&e->ctx, VP8E_SET_MAX_INTRA_BITRATE_PCT, max_intra_pct) != VPX_CODEC_OK ||
	    vpx_codec_control(&e->ctx, VP8E_SET_TOKEN_PARTITIONS, threads > 1 ? VP8_TWO_TOKENPARTITION : VP8_ONE_TOKENPARTITION) != VPX_CODEC_OK) {
		vpx_codec_destroy(&e->ctx);
		return -3;
	}
	vpx_img_wrap(&e->img, VPX_IMG_FMT_I420, w, h, 1, (unsigned char *)1); // planes are set per frame
	return 0;
}

// ifc_vp8_encode encodes one I420 frame and copies the compressed frame into out.
// It returns the size, or -(size needed) when out is too small, or a libvpx error below -1<<30.
static long ifc_vp8_encode(ifc_vp8 *e, unsigned char *y, unsigned char *u, unsigned char *v,
		int ystride, int cstride, long long pts, unsigned long dur, int force_kf,
		unsigned char *out, long cap, int *is_key) {
	e->img.planes[VPX_PLANE_Y] = y;
	e->img.planes[VPX_PLANE_U] = u;
	e->img.planes[VPX_PLANE_V] = v;
	e->img.stride[VPX_PLANE_Y] = ystride;
	e->img.stride[VPX_PLANE_U] = cstride;
	e->img.stride[VPX_PLANE_V] = cstride;
	vpx_codec_err_t err = vpx_codec_encode(&e->ctx, &e->img, pts, dur, force_kf ? VPX_EFLAG_FORCE_KF : 0, VPX_DL_REALTIME);
	if (err != VPX_CODEC_OK) return -(1L << 30) - (long)err;
	long n = 0;
	*is_key = 0;
	vpx_codec_iter_t iter = NULL;
	const vpx_codec_cx_pkt_t *pkt;
	while ((pkt = vpx_codec_get_cx_data(&e->ctx, &iter)) != NULL) {
		if (pkt->kind != VPX_CODEC_CX_FRAME_PKT) continue;
		if (pkt->data.frame.flags & VPX_FRAME_IS_KEY) *is_key = 1;
		if (n + (long)pkt->data.frame.sz <= cap) memcpy(out + n, pkt->data.frame.buf, pkt->data.frame.sz);
		n += pkt->data.frame.sz;
	}
	return n <= cap ? n : -n;
}

static void ifc_vp8_close(ifc_vp8 *e) { vpx_codec_destroy(&e->ctx); }
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"runtime"
	"time"
	"unsafe"
)

// EncoderConfig configures the shared VP8 encoder.
type EncoderConfig struct {
	Width, Height    int
	BitRate          int // bits per second
	KeyFrameInterval int // frames
	// Threads is libvpx's thread count; default 1: VP8's row threads spin-wait on each
	// other, which costs more than it gains on a small, shared edge box.
	Threads int
	// CPUUsed is libvpx's realtime speed: 1 (best quality, slowest) to 16 (fastest). Default 16.
	CPUUsed int
}

// Encoder is a libvpx VP8 encoder tuned for low-latency live preview. It is not safe for
// concurrent use; Server.Run owns the one shared instance.
//
// It talks to libvpx directly instead of through mediadevices' vpx codec because that codec
// offers no control of the speed setting (it encodes at cpu-used 0, the slowest), threads or
// key-frame size, which together put 1280×720 far above the 20 ms budget (docs/benchmarks.md).
type Encoder struct {
	c     *C.ifc_vp8
	cfg   EncoderConfig
	i420  *image.YCbCr // conversion buffer for non-4:2:0 input
	out   []byte
	start time.Time
	last  int64
	// needKey forces a key frame after a frame was lost to a too-small output buffer.
	needKey bool
}

// NewEncoder opens a VP8 encoder.
func NewEncoder(cfg EncoderConfig) (*Encoder, error) {
	if cfg.Width < 16 || cfg.Height < 16 || cfg.Width > 8192 || cfg.Height > 8192 {
		return nil, fmt.Errorf("vp8: size %dx%d out of range", cfg.Width, cfg.Height)
	}
	if cfg.Threads == 0 {
		cfg.Threads = 1
	}
	if cfg.CPUUsed == 0 {
		cfg.CPUUsed = 16
	}
	c := (*C.ifc_vp8)(C.calloc(1, C.sizeof_ifc_vp8))
	if rc := C.ifc_vp8_open(c, C.int(cfg.Width), C.int(cfg.Height), C.int(cfg.BitRate/1000), C.int(cfg.KeyFrameInterval),
		C.int(cfg.Threads), C.int(cfg.CPUUsed), 900); rc != 0 {
		C.free(unsafe.Pointer(c))
		return nil, fmt.Errorf("vp8: libvpx init failed (%d)", int(rc))
	}
	return &Encoder{c: c, cfg: cfg, out: make([]byte, 256<<10), last: -1}, nil
}

// Encode compresses img (*image.RGBA or *image.YCbCr of the configured size) captured at
// at, and reports whether the result is a key frame.
func (e *Encoder) Encode(img image.Image, at time.Time, keyFrame bool) ([]byte, bool, error) {
	if e.c == nil {
		return nil, false, errors.New("vp8: encoder closed")
	}
	if b := img.Bounds(); b.Dx() != e.cfg.Width || b.Dy() != e.cfg.Height {
		return nil, false, fmt.Errorf("vp8: frame is %dx%d, encoder %dx%d", b.Dx(), b.Dy(), e.cfg.Width, e.cfg.Height)
	}
	yuv := e.toI420(img)
	if e.start.IsZero() {
		e.start = at
	}
	pts := int64(at.Sub(e.start) / (time.Second / 90000))
	if pts <= e.last {
		pts = e.last + 1 // libvpx needs strictly increasing timestamps
	}
	e.last = pts
	keyFrame = keyFrame || e.needKey
	e.needKey = false
	{
		var key C.int
		n := C.ifc_vp8_encode(e.c,
			(*C.uchar)(unsafe.Pointer(&yuv.Y[0])), (*C.uchar)(unsafe.Pointer(&yuv.Cb[0])), (*C.uchar)(unsafe.Pointer(&yuv.Cr[0])),
			C.int(yuv.YStride), C.int(yuv.CStride), C.longlong(pts), 3000, boolInt(keyFrame),
			(*C.uchar)(unsafe.Pointer(&e.out[0])), C.long(len(e.out)), &key)
		runtime.KeepAlive(yuv)
		switch {
		case n >= 0:
			return append([]byte(nil), e.out[:n]...), key != 0, nil
		case n < -(1 << 30):
			return nil, false, fmt.Errorf("vp8: encode failed (libvpx error %d)", -int64(n)-(1<<30))
		default:
			// The frame was encoded but did not fit: it cannot be fetched again, so grow the
			// buffer and ask for a key frame on the next call instead of losing sync.
			e.out = make([]byte, 2*int(-n))
			e.needKey = true
			return nil, false, nil
		}
	}
}

// toI420 returns img as 4:2:0 YCbCr, converting into a reused buffer when needed.
func (e *Encoder) toI420(img image.Image) *image.YCbCr {
	if y, ok := img.(*image.YCbCr); ok && y.SubsampleRatio == image.YCbCrSubsampleRatio420 && y.Rect.Min == (image.Point{}) {
		return y
	}
	if e.i420 == nil {
		e.i420 = image.NewYCbCr(image.Rect(0, 0, e.cfg.Width, e.cfg.Height), image.YCbCrSubsampleRatio420)
	}
	ToI420(e.i420, img)
	return e.i420
}

// Close releases the encoder; it is idempotent.
func (e *Encoder) Close() error {
	if e.c != nil {
		C.ifc_vp8_close(e.c)
		C.free(unsafe.Pointer(e.c))
		e.c = nil
	}
	return nil
}

func boolInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
