// Package images holds no code: deploy/images has the container image
// definitions (Containerfile for the ifc binary, Containerfile.triton for
// Triton with models/triton). No container engine runs on the development
// machines, so this package's test checks them statically: pinned base
// images, a non-root final user, COPY sources that exist, and EXPOSE ports
// equal to the ports the Kubernetes manifests give the image's containers.
package images
