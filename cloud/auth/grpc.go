package auth

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// MethodPermissions maps full gRPC method names ("/ifc.v1.PipelineService/Execute")
// to the permission they need. Methods not listed are denied.
type MethodPermissions map[string]Permission

// SelfAuthenticated marks methods whose service authenticates the caller
// itself (the device-credential sync service): the user-token interceptors
// let them through untouched. It is not a permission any role holds.
const SelfAuthenticated Permission = "self-authenticated"

func (a *Authenticator) authorize(ctx context.Context, method string, perms MethodPermissions) (context.Context, error) {
	perm, ok := perms[method]
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "method %s is not open to callers", method)
	}
	if perm == SelfAuthenticated {
		return ctx, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	var tok string
	if v := md.Get("authorization"); len(v) > 0 {
		tok = BearerToken(v[0])
	}
	if tok == "" {
		return nil, status.Error(codes.Unauthenticated, "missing bearer token")
	}
	c, err := a.VerifyActive(ctx, tok)
	if err != nil {
		if !IsUnauthenticated(err) {
			return nil, status.Error(codes.Unavailable, "cannot check the account now; retry")
		}
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	if !c.Can(perm) {
		return nil, status.Errorf(codes.PermissionDenied, "role %s lacks permission %s", c.Role, perm)
	}
	return WithPrincipal(ctx, c.Principal), nil
}

// UnaryInterceptor authenticates each unary call and enforces perms.
func (a *Authenticator) UnaryInterceptor(perms MethodPermissions) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := a.authorize(ctx, info.FullMethod, perms)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor authenticates each streaming call and enforces perms.
func (a *Authenticator) StreamInterceptor(perms MethodPermissions) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := a.authorize(ss.Context(), info.FullMethod, perms)
		if err != nil {
			return err
		}
		return handler(srv, &principalStream{ServerStream: ss, ctx: ctx})
	}
}

type principalStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *principalStream) Context() context.Context { return s.ctx }
