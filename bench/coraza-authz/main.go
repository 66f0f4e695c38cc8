// coraza-authz: a minimal Envoy ext_authz gRPC server built on Coraza v3, the way Calico's
// WAF uses Coraza. It exists only as a peer for Sidewall's live bench (bench/peers/): it
// evaluates each CheckRequest's attributes.request.http with the directives it is given and
// answers OK or PERMISSION_DENIED with the interruption's HTTP status.
//
//	coraza-authz -listen unix:/tmp/x.sock -rules a.conf -rules b.conf ...
//
// It prints "READY" on stdout once listening; SIGTERM stops it.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/types"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

type ruleFiles []string

func (r *ruleFiles) String() string     { return strings.Join(*r, ",") }
func (r *ruleFiles) Set(v string) error { *r = append(*r, v); return nil }

type server struct {
	authv3.UnimplementedAuthorizationServer
	waf coraza.WAF
}

func allowed() *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status:       &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}},
	}
}

func denied(it *types.Interruption) *authv3.CheckResponse {
	code := it.Status
	if code < 200 || code > 599 {
		code = 403
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(codes.PermissionDenied), Message: fmt.Sprintf("rule %d", it.RuleID)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode(code)},
		}},
	}
}

func (s *server) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	http := req.GetAttributes().GetRequest().GetHttp()
	if http == nil {
		return nil, fmt.Errorf("CheckRequest.attributes.request.http is missing")
	}
	tx := s.waf.NewTransactionWithID(http.GetId())
	defer func() {
		tx.ProcessLogging()
		_ = tx.Close()
	}()

	src := req.GetAttributes().GetSource().GetAddress().GetSocketAddress()
	dst := req.GetAttributes().GetDestination().GetAddress().GetSocketAddress()
	tx.ProcessConnection(src.GetAddress(), int(src.GetPortValue()), dst.GetAddress(), int(dst.GetPortValue()))

	protocol := http.GetProtocol()
	if protocol == "" {
		protocol = "HTTP/1.1"
	}
	tx.ProcessURI(http.GetPath(), http.GetMethod(), protocol)
	host := http.GetHost()
	sawHost := false
	addHeader := func(k, v string) {
		if strings.HasPrefix(k, ":") || k == "x-envoy-auth-partial-body" {
			return
		}
		if k == "host" {
			sawHost = true
		}
		tx.AddRequestHeader(k, v)
	}
	if hm := http.GetHeaderMap(); hm != nil && len(hm.GetHeaders()) > 0 {
		for _, h := range hm.GetHeaders() {
			v := h.GetValue()
			if len(h.GetRawValue()) > 0 {
				v = string(h.GetRawValue())
			}
			addHeader(h.GetKey(), v)
		}
	} else {
		for k, v := range http.GetHeaders() {
			addHeader(k, v)
		}
	}
	if !sawHost && host != "" {
		tx.AddRequestHeader("host", host)
	}
	if host != "" {
		tx.SetServerName(host)
	}
	if it := tx.ProcessRequestHeaders(); it != nil {
		return denied(it), nil
	}
	body := http.GetRawBody()
	if len(body) == 0 && http.GetBody() != "" {
		body = []byte(http.GetBody())
	}
	if tx.IsRequestBodyAccessible() && len(body) > 0 {
		it, _, err := tx.WriteRequestBody(body)
		if err != nil {
			return nil, err
		}
		if it != nil {
			return denied(it), nil
		}
	}
	it, err := tx.ProcessRequestBody()
	if err != nil {
		return nil, err
	}
	if it != nil {
		return denied(it), nil
	}
	return allowed(), nil
}

func main() {
	var rules ruleFiles
	listen := flag.String("listen", "127.0.0.1:0", "host:port or unix:/path")
	flag.Var(&rules, "rules", "directives file (repeatable, loaded in order)")
	flag.Parse()

	cfg := coraza.NewWAFConfig()
	for _, f := range rules {
		cfg = cfg.WithDirectivesFromFile(f)
	}
	waf, err := coraza.NewWAF(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "coraza-authz: rules: %v\n", err)
		os.Exit(2)
	}

	network, address := "tcp", *listen
	if strings.HasPrefix(address, "unix:") {
		network, address = "unix", strings.TrimPrefix(address, "unix:")
		_ = os.Remove(address)
	}
	lis, err := net.Listen(network, address)
	if err != nil {
		fmt.Fprintf(os.Stderr, "coraza-authz: listen %s: %v\n", *listen, err)
		os.Exit(1)
	}
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(32 << 20))
	authv3.RegisterAuthorizationServer(gs, &server{waf: waf})

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		gs.Stop()
	}()
	fmt.Printf("READY %s\n", lis.Addr().String())
	if err := gs.Serve(lis); err != nil {
		fmt.Fprintf(os.Stderr, "coraza-authz: %v\n", err)
		os.Exit(1)
	}
}
