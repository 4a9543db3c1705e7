package sender

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
	"github.com/imageflowcanvas/ifc/sync/device"
)

// Dial opens a client connection to the cloud sync endpoint. The transport
// is insecure unless extra carries TLS credentials; keepalive pings find a
// dead link within ~15 s and reconnects back off from 250 ms to 1 s (a SYN a
// second while offline is nothing on a LAN), so the
// connection is READY again soon after the link returns.
func Dial(target string, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 250 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 3 * time.Second,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16 << 20)),
	}
	conn, err := grpc.NewClient(target, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("dial sync %s: %w", target, err)
	}
	return conn, nil
}

// Enroll exchanges a one-time enrollment token for device credentials.
// deviceID may be empty to let the cloud assign one; cloudURL is recorded in
// the returned credentials.
func Enroll(ctx context.Context, c ifcv1.SyncServiceClient, token, deviceID, deviceName, agentVersion, cloudURL string) (device.Credentials, error) {
	if token == "" {
		return device.Credentials{}, errors.New("enroll: token is empty")
	}
	if deviceID != "" {
		if err := device.ValidID(deviceID); err != nil {
			return device.Credentials{}, fmt.Errorf("enroll: %w", err)
		}
	}
	resp, err := c.Enroll(ctx, &ifcv1.EnrollRequest{Token: token, DeviceId: deviceID, DeviceName: deviceName, AgentVersion: agentVersion})
	if err != nil {
		return device.Credentials{}, fmt.Errorf("enroll at %s: %w", cloudURL, err)
	}
	pc := resp.GetCredentials()
	creds := device.Credentials{DeviceID: pc.GetDeviceId(), Line: pc.GetLine(), Secret: pc.GetSecret(), CloudURL: cloudURL}
	if err := creds.Validate(); err != nil {
		return device.Credentials{}, fmt.Errorf("enroll at %s: cloud returned bad credentials: %w", cloudURL, err)
	}
	if deviceID != "" && creds.DeviceID != deviceID {
		return device.Credentials{}, fmt.Errorf("enroll at %s: asked for device id %q, cloud returned %q", cloudURL, deviceID, creds.DeviceID)
	}
	return creds, nil
}

// withCredential adds the device credential to the outgoing metadata.
func withCredential(ctx context.Context, c device.Credentials) context.Context {
	return metadata.AppendToOutgoingContext(ctx, device.MetadataKey, device.Header(c.DeviceID, c.Secret))
}
