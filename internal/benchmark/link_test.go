package benchmark

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// The link benchmark: the databases as if on hosts of their own, each
// sending to recon over a link of RECON_BENCH_LINK (a tc rate, "100mbit";
// unset: not measured), which traffic control imposes on the loopback
// device on what leaves each database's port. On one machine the read
// floor is what the processes cost the shared cores; across a link it is
// what the link carries, which checksum mode spares.

// linkRate is the rate to impose, or "" for none.
func linkRate() string { return strings.TrimSpace(os.Getenv("RECON_BENCH_LINK")) }

// linkMaxRows is the largest size measured over the link: at 100 Mbit/s
// ten million rows a side take each link 80 seconds.
const linkMaxRows = 10_000_000

var myPort = regexp.MustCompile(`@tcp\([^)]*:(\d+)\)`)

// dsnPort returns the TCP port a PostgreSQL URL or a MySQL DSN names.
func dsnPort(dsn string) (string, error) {
	if m := myPort.FindStringSubmatch(dsn); m != nil {
		return m[1], nil
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Port() == "" {
		return "", fmt.Errorf("no TCP port in the DSN")
	}
	return u.Port(), nil
}

// shapeLinks gives what leaves each DSN's port on the loopback device a
// link of its own at rate (an HTB class each; the rest of the traffic
// keeps an unlimited one) until the test ends. It skips the test where
// traffic control cannot (not root, no tc, or the loopback device already
// has a root qdisc).
func shapeLinks(b *testing.B, rate string, dsns ...string) {
	if _, err := exec.LookPath("tc"); err != nil || os.Geteuid() != 0 {
		b.Skip("imposing a link needs tc and root")
	}
	tc := func(args ...string) error {
		if out, err := exec.Command("tc", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("tc %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := tc("qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "1"); err != nil {
		b.Skip(err)
	}
	b.Cleanup(func() {
		if err := tc("qdisc", "del", "dev", "lo", "root"); err != nil {
			b.Error(err)
		}
	})
	if err := tc("class", "add", "dev", "lo", "parent", "1:", "classid", "1:1", "htb", "rate", "100gbit"); err != nil {
		b.Fatal(err)
	}
	for i, dsn := range dsns {
		port, err := dsnPort(dsn)
		if err != nil {
			b.Fatal(err)
		}
		class := fmt.Sprintf("1:%d", i+2)
		for _, args := range [][]string{
			{"class", "add", "dev", "lo", "parent", "1:", "classid", class, "htb", "rate", rate, "ceil", rate},
			{"filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "sport", port, "0xffff", "flowid", class},
		} {
			if err := tc(args...); err != nil {
				b.Fatal(err)
			}
		}
	}
}
