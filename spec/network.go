package spec

import (
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"strconv"

	"github.com/milvus-gitops/milvusgen/model"
)

// sharedPrivate are the source ranges production accepts without
// service.publicSourceRanges: RFC 1918, RFC 6598 (carrier-grade NAT, used
// for pod and VPC ranges by several clouds) and IPv6 unique local
// addresses (RFC 4193).
var sharedPrivate = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("fc00::/7"),
}

// sourceRanges checks service.loadBalancerSourceRanges as networks
// (net/netip), not as strings: each parses, has no host bits set, and in
// production the set neither covers every IPv4 or every IPv6 address
// (in any spelling, or as a union of ranges) nor names a public range
// unless service.publicSourceRanges says so.
func (s *Set) sourceRanges(name string, env *model.Environment) []Diagnostic {
	var diags []Diagnostic
	at := func(i int, msg string) {
		diags = append(diags, s.positionedAt(name, []string{"service", "loadBalancerSourceRanges", strconv.Itoa(i)}, msg)...)
	}
	var parsed []netip.Prefix
	var index []int
	for i, r := range env.Service.LoadBalancerSourceRanges {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			at(i, fmt.Sprintf("%q is not a network in CIDR notation (e.g. 10.0.0.0/8 or fd00::/8): %v", r, err))
			continue
		}
		if m := p.Masked(); m != p {
			at(i, fmt.Sprintf("%q has host bits set: the network is %s", r, m))
			continue
		}
		parsed = append(parsed, canonical(p))
		index = append(index, i)
	}
	if !env.Production {
		return diags
	}
	for _, family := range []struct {
		name string
		bits int
		is4  bool
	}{{"IPv4", 32, true}, {"IPv6", 128, false}} {
		var fam []netip.Prefix
		for _, p := range parsed {
			if p.Addr().Is4() == family.is4 {
				fam = append(fam, p)
			}
		}
		if covers(fam, family.bits) {
			diags = append(diags, s.positioned(name, "service.loadBalancerSourceRanges",
				fmt.Sprintf("these ranges together cover every %s address: production does not expose Milvus to the whole internet", family.name))...)
		}
	}
	if env.Service.PublicSourceRanges {
		return diags
	}
	for j, p := range parsed {
		if !private(p) {
			at(index[j], fmt.Sprintf("%s is not a private network (RFC 1918, RFC 6598 or IPv6 ULA): production admits clients from private networks only, unless service.publicSourceRanges: true says this is on purpose", p))
		}
	}
	return diags
}

// canonical turns an IPv4-mapped IPv6 network (::ffff:10.0.0.0/104) into
// the IPv4 network it is.
func canonical(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

func private(p netip.Prefix) bool {
	return slices.ContainsFunc(sharedPrivate, func(r netip.Prefix) bool {
		return r.Bits() <= p.Bits() && r.Contains(p.Addr())
	})
}

// covers says whether the union of the networks is the whole address
// space of bits bits.
func covers(ps []netip.Prefix, bits int) bool {
	type span struct{ lo, hi *big.Int }
	spans := make([]span, 0, len(ps))
	for _, p := range ps {
		lo := new(big.Int).SetBytes(p.Addr().AsSlice())
		size := new(big.Int).Lsh(big.NewInt(1), uint(bits-p.Bits()))
		spans = append(spans, span{lo, new(big.Int).Add(lo, size)}) // [lo, hi)
	}
	slices.SortFunc(spans, func(a, b span) int { return a.lo.Cmp(b.lo) })
	next := big.NewInt(0)
	for _, s := range spans {
		if s.lo.Cmp(next) > 0 {
			return false
		}
		if s.hi.Cmp(next) > 0 {
			next = s.hi
		}
	}
	return next.Cmp(new(big.Int).Lsh(big.NewInt(1), uint(bits))) == 0
}
