// Package infer runs model bundles (models/bundle) in process with ONNX Runtime
// (onnxruntime_go) and OpenCV (gocv): preprocessing exactly as the manifest says, the
// pre-filter Classifier, the CenterNet Detector with its decoding and NMS, and Draw for
// annotated images.
//
// Every model is verified before use: NewClassifier and NewDetector run the bundle's golden
// check and refuse a model that fails it. The ONNX Runtime environment is created once per
// process (Init); the shared library is found with LibraryPath.
package infer
