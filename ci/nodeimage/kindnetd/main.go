// Command kindnetd is AIWFE's stand-in for kind's kindnetd in the air-gapped node image.
//
// kind's own kindnetd is not published on the Go module proxy, so the air-gapped image ships
// this small daemon with the same job and the same DaemonSet contract (env HOST_IP,
// POD_SUBNET; mounts /etc/cni/net.d): it writes the node's CNI config (ptp + host-local +
// portmap, the plugins kind uses) for the node's PodCIDRs, routes other nodes' PodCIDRs via
// their InternalIPs, and masquerades pod traffic that leaves the pod subnet (nftables).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const (
	cniConfigPath = "/etc/cni/net.d/10-kindnet.conflist"
	nftTable      = "kindnet-aiwfe"
	resync        = 10 * time.Second
)

func internalIP(node *corev1.Node) string {
	for _, addr := range node.Status.Addresses {
		if addr.Type == corev1.NodeInternalIP && net.ParseIP(addr.Address).To4() != nil {
			return addr.Address
		}
	}
	return ""
}

func ipv4CIDRs(node *corev1.Node) []string {
	cidrs := node.Spec.PodCIDRs
	if len(cidrs) == 0 && node.Spec.PodCIDR != "" {
		cidrs = []string{node.Spec.PodCIDR}
	}
	var out []string
	for _, cidr := range cidrs {
		if ip, _, err := net.ParseCIDR(cidr); err == nil && ip.To4() != nil {
			out = append(out, cidr)
		}
	}
	return out
}

// cniConfig is the conflist kindnetd writes: ptp + host-local IPAM, then portmap.
func cniConfig(podCIDR string, mtu int) ([]byte, error) {
	config := map[string]any{
		"cniVersion": "0.3.1",
		"name":       "kindnet",
		"plugins": []any{
			map[string]any{
				"type":   "ptp",
				"ipMasq": false,
				"mtu":    mtu,
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": "/run/cni-ipam-state",
					"routes":  []any{map[string]any{"dst": "0.0.0.0/0"}},
					"ranges":  []any{[]any{map[string]any{"subnet": podCIDR}}},
				},
			},
			map[string]any{
				"type":         "portmap",
				"capabilities": map[string]any{"portMappings": true},
			},
		},
	}
	return json.MarshalIndent(config, "", "  ")
}

func writeIfChanged(path string, data []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return false, nil
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return false, err
	}
	return true, os.Rename(tmp, path)
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func ensureMasquerade(podSubnet string) error {
	rules := fmt.Sprintf(`table ip %[1]s
delete table ip %[1]s
table ip %[1]s {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr %[2]s ip daddr != %[2]s masquerade
	}
}
`, nftTable, podSubnet)
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft: %v: %s", err, out)
	}
	return nil
}

func defaultMTU(hostIP string) int {
	ifaces, err := net.Interfaces()
	if err != nil {
		return 1500
	}
	for _, iface := range ifaces {
		addrs, _ := iface.Addrs()
		for _, addr := range addrs {
			if ipnet, ok := addr.(*net.IPNet); ok && ipnet.IP.String() == hostIP {
				return iface.MTU
			}
		}
	}
	return 1500
}

func reconcile(ctx context.Context, client kubernetes.Interface, hostIP string, mtu int) error {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range nodes.Items {
		node := &nodes.Items[i]
		nodeIP := internalIP(node)
		cidrs := ipv4CIDRs(node)
		if nodeIP == "" || len(cidrs) == 0 {
			continue
		}
		if nodeIP == hostIP {
			data, err := cniConfig(cidrs[0], mtu)
			if err != nil {
				return err
			}
			changed, err := writeIfChanged(cniConfigPath, data)
			if err != nil {
				return err
			}
			if changed {
				log.Printf("wrote %s for node %s (pod CIDR %s)", cniConfigPath, node.Name, cidrs[0])
			}
			continue
		}
		for _, cidr := range cidrs {
			if err := run("ip", "route", "replace", cidr, "via", nodeIP); err != nil {
				return err
			}
		}
	}
	return nil
}

func main() {
	hostIP := os.Getenv("HOST_IP")
	podSubnet := os.Getenv("POD_SUBNET")
	if hostIP == "" || podSubnet == "" {
		log.Fatal("HOST_IP and POD_SUBNET must be set (see the kindnet DaemonSet)")
	}
	config, err := rest.InClusterConfig()
	if err != nil {
		log.Fatalf("in-cluster config: %v", err)
	}
	client := kubernetes.NewForConfigOrDie(config)
	mtu := defaultMTU(hostIP)
	log.Printf("kindnetd (aiwfe) starting: host %s, pod subnet %s, mtu %d", hostIP, podSubnet, mtu)
	ctx := context.Background()
	for {
		for _, subnet := range strings.Split(podSubnet, ",") {
			if ip, _, err := net.ParseCIDR(subnet); err == nil && ip.To4() != nil {
				if err := ensureMasquerade(subnet); err != nil {
					log.Printf("masquerade: %v", err)
				}
			}
		}
		if err := reconcile(ctx, client, hostIP, mtu); err != nil {
			log.Printf("reconcile: %v", err)
		}
		time.Sleep(resync)
	}
}
