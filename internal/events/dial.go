package events

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrAddressRefused means the dial guard refused the address a webhook
// would have been sent to (private, link-local, metadata, unspecified,
// multicast, reserved or, unless insecure delivery is allowed, loopback).
var ErrAddressRefused = errors.New("events: webhook destination address refused")

// guardRule is what a dialer lets through.
type guardRule struct {
	// allowLoopback lets loopback addresses through (AllowInsecure).
	allowLoopback bool
	// loopbackOnly refuses everything but loopback: the rule of plain
	// http, which is for a receiver on the same machine only.
	loopbackOnly bool
}

// dialer returns the net.Dialer the Sender connects with. Its Control
// runs on the address actually being dialled, after name resolution and
// before the connection is made, for every address tried (Happy Eyeballs
// tries several): a name whose DNS answer changes between CheckURL and the
// dial, or between two attempts, cannot reach a refused address.
// afterGuard, nil outside tests, runs on an address the guard let through.
func dialer(rule guardRule, resolver *net.Resolver, timeout time.Duration, afterGuard func(network, address string) error) *net.Dialer {
	return &net.Dialer{
		Timeout:  timeout,
		Resolver: resolver,
		Control: func(network, address string, _ syscall.RawConn) error {
			if err := rule.check(network, address); err != nil {
				return err
			}
			if afterGuard != nil {
				return afterGuard(network, address)
			}
			return nil
		},
	}
}

// check refuses anything but TCP to an address the rule allows.
func (rule guardRule) check(network, address string) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return fmt.Errorf("network %s: %w", network, ErrAddressRefused)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("address %q: %w", address, ErrAddressRefused)
	}
	a := ap.Addr()
	if why := refusal(a, rule.allowLoopback); why != "" {
		return fmt.Errorf("%s is %s: %w", a, why, ErrAddressRefused)
	}
	if rule.loopbackOnly && !(rule.allowLoopback && a.Unmap().IsLoopback()) {
		return fmt.Errorf("%s: plain http is sent only to a loopback address: %w", a, ErrAddressRefused)
	}
	return nil
}
